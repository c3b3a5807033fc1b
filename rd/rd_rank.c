/* Where a page of a lookup begins, from the store's counts (RFC 9176 section 6.2, paging). */
#include <string.h>

#include "lookup.h"
#include "rd_conf.h"
#include "rd_log.h"
#include "rd_rank.h"
#include "rd_registration.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* A page P of a lookup with count C starts at match P * C. Walking there costs every match
 * before it; the store keeps, with its term index, how much each registration contributes to a
 * lookup of exactly one term (or of everything), and finds that place in O(log N) reads. The
 * weights are what lookup_term_weights() says a lookup of the term finds, computed when the
 * registration is written, so they agree with the walk's own matching.
 *
 * Two things hide registrations from a walk besides their deadline, which the store handles:
 * a link-local base (section 6.1) hides a registration from clients on other links, and a
 * record that no longer decodes is skipped. The first carries RD_RANK_SCOPED, and while any
 * registration does, seeks decline; the second is damage, which rdctl check reports. */

static int
is_ep_term(const char *term, size_t len)
{
    return len >= 3 && memcmp(term, "ep=", 3) == 0;
}

/* Terms weighed in one call of lookup_terms_weigh(), from an array on the stack. */
#define RANK_CHUNK 32

/* Set the weights of @p terms for the registration (@p ep, @p d, @p rec). */
static void
weigh(const char *ep, const char *d, const struct lookup_reg *rec, struct store_term *terms,
      size_t nterms)
{
    struct lookup_regview view;
    struct lookup_term t[RANK_CHUNK];
    uint32_t eps[RANK_CHUNK];
    uint32_t links[RANK_CHUNK];

    /* The id is not known yet; no term a lookup can choose compares the href. */
    view.ep = ep;
    view.d = d ? d : "";
    view.href = "";
    view.rec = rec;
    for (size_t i = 0; i < nterms; i += RANK_CHUNK) {
        size_t n = nterms - i < RANK_CHUNK ? nterms - i : RANK_CHUNK;

        for (size_t k = 0; k < n; k++) {
            t[k].data = terms[i + k].data;
            t[k].len = terms[i + k].len;
        }
        lookup_terms_weigh(&view, t, n, eps, links);
        for (size_t k = 0; k < n; k++) {
            terms[i + k].eps = eps[k];
            terms[i + k].links = links[k];
        }
    }
    rd__rank_weights(terms, nterms);
}

void
rd__rank_weights(struct store_term *terms, size_t nterms)
{
    for (size_t k = 0; k < nterms; k++) {
        /* An endpoint name has one registration per sector: its pages are never deep, and
         * counting it would cost every registration a write for nothing. rd__rank_seek()
         * leaves it to the walk. */
        if (is_ep_term(terms[k].data, terms[k].len)) {
            terms[k].eps = 0;
            terms[k].links = 0;
        }
    }
}

int
rd__rank_weigh_stored(void *arg, const struct store_reg *reg, struct store_term *terms,
                      size_t nterms, uint32_t *nlinks)
{
    struct lookup_reg rec;

    (void)arg;
    if (lookup_reg_decode(&rec, reg->data, reg->data_len)) {
        return 1;
    }
    /* A registration with a link-local base was stored without RD_RANK_SCOPED: it stays
     * without weights, so seeks walk, until it registers again. */
    if (rec.scope) {
        lookup_reg_cleanup(&rec);
        return 1;
    }
    weigh(reg->ep, reg->d, &rec, terms, nterms);
    *nlinks = (uint32_t)rec.nlinks;
    lookup_reg_cleanup(&rec);
    return 0;
}

int
rd__rank_seek(struct store *st, int links, const struct lookup_query *q, const char *term,
              size_t term_len, int64_t now, uint64_t *after, uint64_t *skip)
{
    static const struct store_term veto = { RD_RANK_SCOPED, sizeof(RD_RANK_SCOPED), 1, 0 };

    /* The counts count lookups of everything, or of exactly the one term walked. */
    if (!q->has_count || q->page == 0 || q->ncrit > 1 ||
        (q->ncrit == 1 && (term_len == 0 || term[term_len - 1] != '\0')) ||
        (q->ncrit == 1 && is_ep_term(term, term_len))) {
        return RD_ECONFLICT;
    }
    return store_rank_seek(st, term, q->ncrit ? term_len : 0,
                           links ? STORE_RANK_LINKS : STORE_RANK_EPS, now,
                           (uint64_t)q->page * q->count, &veto, after, skip);
}
