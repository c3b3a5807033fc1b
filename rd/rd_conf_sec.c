/* Relations between the security directives (CoAPS listeners, PSK and certificate files,
 * plain CoAP access) that no single directive can check (RFC 9176 section 7). */
#include <stdio.h>
#include <string.h>

#include "rd_conf.h"
#include "rd_status.h"

int
rd__conf_sec_check(const struct rd_sec_conf *sec, char *err, size_t err_size)
{
    if ((sec->cert_file != NULL) != (sec->key_file != NULL)) {
        snprintf(err, err_size, "cert_file and key_file: give both or neither");
        return RD_EINVAL;
    }
    if (sec->cert_file && !sec->ca_file) {
        snprintf(err, err_size, "cert_file: needs ca_file, the CA of the client certificates");
        return RD_EINVAL;
    }
    if (sec->ca_file && !sec->cert_file) {
        snprintf(err, err_size, "ca_file: needs cert_file and key_file");
        return RD_EINVAL;
    }
    if (sec->ndtls_listen && !sec->psk_file && !sec->cert_file) {
        snprintf(err, err_size, "dtls_listen: needs psk_file or cert_file");
        return RD_EINVAL;
    }
    if (sec->plain_coap == RD_PLAIN_OFF && !sec->psk_file && !sec->cert_file) {
        snprintf(err, err_size, "plain_coap: off leaves no listener without psk_file or cert_file");
        return RD_EINVAL;
    }
    return RD_OK;
}
