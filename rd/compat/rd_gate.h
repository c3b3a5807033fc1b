/* What rd_gate.c offers the rest of rd/. The datagram gate. */
#ifndef RD_GATE_H
#define RD_GATE_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/* libcoap 4.3.1 has no hook between its socket and its parser: the gate interposes recvmsg()
 * (rd_gate.c). A libcoap that offers such a hook builds without the interposition. */
#define RD_GATE_INTERPOSE (LIBCOAP_VERSION <= 4003001U)

/** Find the socket libcoap opened for the endpoint at @p addr and examine each of its datagrams
 * before libcoap parses it, from now on. @return RD_OK; RD_ENOTFOUND (logged; the server runs
 * without the gate). */
int rd__gate_add(struct rd_server *srv, const coap_address_t *addr);

/** Stop examining @p srv's sockets (before they close). */
void rd__gate_remove(struct rd_server *srv);

/** 1 when a datagram waits on one of @p srv's plain CoAP sockets: libcoap may read again without
 * waiting. */
int rd__gate_pending(struct rd_server *srv);

#endif
