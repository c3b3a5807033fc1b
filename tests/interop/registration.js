'use strict';
// Registration, reading, update, conditional requests and removal with node-coap (RFC 9176
// section 5), the registration's body sent with Block1 as node-coap does it: no Size1.
const { check, request, location, option, main } = require('./lib');

const ep = `node-coap-${process.pid}`;
const links = [];
for (let i = 0; i < 24; i++) {
    links.push(`</sensors/${i}>;rt="temperature-c";if="sensor"`);
}
const body = links.join(',');
const lf = ['Content-Format', 'application/link-format'];

main(async () => {
    let res = await request({ method: 'POST', pathname: '/rd', query: `ep=${ep}&lt=300`,
                              options: [lf, ['Block1', Buffer.from([0x02])]] }, body);
    const loc = location(res);

    check('RFC 9176 section 5', `registration of ${body.length} bytes in 64-byte Block1 blocks`,
          res.code === '2.01', res.code);
    check('RFC 9176 section 5', 'Location-Path names rd/<id>', /^rd\/[0-9a-z]+$/.test(loc), loc);
    check('RFC 7959 section 2.3', 'the final answer echoes the last Block1 option',
          option(res, 'Block1').length === 1, JSON.stringify(option(res, 'Block1')));

    res = await request({ pathname: `/${loc}` });
    check('RFC 7959 section 2.4', 'GET of the registration comes back whole, with Block2',
          res.code === '2.05' && res.payload.toString() === body,
          `${res.code}, ${res.payload.length} bytes`);

    res = await request({ method: 'POST', pathname: `/${loc}`, query: 'lt=600&et=interop' });
    check('RFC 9176 section 5.3.1', 'update of lt and an attribute: 2.04', res.code === '2.04',
          res.code);
    res = await request({ pathname: '/rd-lookup/ep', query: `ep=${ep}` });
    check('RFC 9176 section 6', 'endpoint lookup shows the updated attribute',
          res.code === '2.05' && /;et="?interop"?(;|$)/.test(res.payload.toString()),
          res.payload.toString());

    res = await request({ method: 'POST', pathname: '/rd', query: `ep=${ep}`,
                          options: [lf, ['If-None-Match', Buffer.alloc(0)]] }, '</x>');
    check('RFC 7252 section 5.10.8.2', 'If-None-Match on a registered (ep, d): 4.12',
          res.code === '4.12', res.code);
    res = await request({ method: 'DELETE', pathname: `/${loc}`,
                          options: [['If-Match', Buffer.from([1, 2, 3])]] });
    check('RFC 7252 section 5.10.8.1', 'removal with a stale If-Match: 4.12', res.code === '4.12',
          res.code);
    res = await request({ method: 'POST', pathname: `/${loc}`,
                          options: [['If-Match', Buffer.alloc(0)]] });
    check('RFC 7252 section 5.10.8.1', 'an empty If-Match matches the registration: 2.04',
          res.code === '2.04', res.code);

    res = await request({ method: 'DELETE', pathname: `/${loc}` });
    check('RFC 9176 section 5.3.2', 'removal: 2.02', res.code === '2.02', res.code);
    res = await request({ pathname: `/${loc}` });
    check('RFC 9176 section 5.3.2', 'the registration is gone: 4.04', res.code === '4.04',
          res.code);
});
