'use strict';
// Discovery of the RD's resources with node-coap (RFC 9176 section 4.3, RFC 6690).
const { check, request, option, main } = require('./lib');

main(async () => {
    let res = await request({ pathname: '/.well-known/core', query: 'rt=core.rd*' });
    const body = res.payload.toString();

    check('RFC 6690 section 4', 'GET /.well-known/core answers 2.05', res.code === '2.05',
          res.code);
    check('RFC 6690 section 7.2', 'in application/link-format (40)',
          String(option(res, 'Content-Format')[0]) === 'application/link-format',
          String(option(res, 'Content-Format')[0]));
    check('RFC 9176 section 4.3', 'rt=core.rd* finds the directory resource',
          /<\/rd>;[^,]*rt="?core\.rd"?/.test(body), body);
    check('RFC 9176 section 4.3', 'and both lookup resources',
          /<\/rd-lookup\/ep>;[^,]*rt="?core\.rd-lookup-ep"?/.test(body) &&
              /<\/rd-lookup\/res>;[^,]*rt="?core\.rd-lookup-res"?/.test(body), body);
    res = await request({ pathname: '/.well-known/core', query: 'rt=core.rd-lookup-ep' });
    check('RFC 6690 section 4.1', 'a filter narrows the answer to what matches',
          res.code === '2.05' && !res.payload.toString().includes('</rd>;'),
          res.payload.toString());
});
