'use strict';
// Observe of a resource lookup across a change with node-coap (RFC 7641, RFC 9176 section 6):
// node-coap observes, the registration gains a link, and a notification must bring it.
// MODE small: notifications within three times the request, which go to any address whole.
// MODE large: notifications of about 1 KiB, to an address the RD has verified.
// MODE large-unverified: the first answer to an unverified address, which leaves block-wise.
const { coap, check, request, location, option, main } = require('./lib');

const mode = process.argv[4] || 'small';
const ep = `node-coap-obs-${process.pid}`;
const rt = `io-${mode}-${process.pid}`;
const lf = ['Content-Format', 'application/link-format'];
const count = mode === 'small' ? 1 : 12;

function links(n) {
    const out = [];
    for (let i = 0; i < n; i++) {
        out.push(`</${mode === 'small' ? '' : 'sensors/'}${i}>;rt="${rt}"`);
    }
    return out.join(',');
}

// Resolves with the first chunk on @p stream for which @p pred holds; null after ms.
function next(stream, pred, ms) {
    return new Promise((resolve) => {
        const timer = setTimeout(() => {
            stream.removeListener('data', onData);
            resolve(null);
        }, ms);
        function onData(chunk) {
            if (pred(chunk.toString())) {
                clearTimeout(timer);
                stream.removeListener('data', onData);
                resolve(chunk.toString());
            }
        }
        stream.on('data', onData);
    });
}

main(async () => {
    let res = await request({ method: 'POST', pathname: '/rd', query: `ep=${ep}&lt=120`,
                              options: [lf] }, links(count));
    check('RFC 9176 section 5', 'registration: 2.01', res.code === '2.01', res.code);
    const loc = location(res);

    // Its own agent: closing the observation closes that agent's socket.
    const stream = await request({ pathname: '/rd-lookup/res', query: `rt=${rt}&ep=${ep}`,
                                   observe: true, agent: new coap.Agent({ type: 'udp4' }) });
    const first = stream.payload.toString();
    {
        // To an unverified address the first answer leaves in small blocks (RFC 7252 section
        // 11.3); node-coap asks for the later blocks by repeating its Observe registration, each
        // block passes the same limit and says the observation goes on.
        check('RFC 7641 section 3.1', `${mode}: the observed lookup answers 2.05 with Observe`,
              stream.code === '2.05' && option(stream, 'Observe').length === 1,
              `${stream.code}, Observe ${JSON.stringify(option(stream, 'Observe'))}`);
        check('RFC 9176 section 6', 'the first answer lists the registered links',
              (first.match(/;rt=/g) || []).length === count, first);

        const added = `/${mode === 'small' ? '' : 'sensors/'}${count}>`;
        const seen = next(stream, (text) => text.includes(added), 4000);
        res = await request({ method: 'POST', pathname: `/${loc}`, options: [lf] },
                            links(count + 1));
        check('RFC 9176 section 5.3.1', 'update with one more link: 2.04', res.code === '2.04',
              res.code);
        const text = await seen;
        check('RFC 7641 section 4.2', 'a notification brings the new link',
              text !== null && (text.match(/;rt=/g) || []).length === count + 1, String(text));
    }
    stream.close();

    res = await request({ method: 'DELETE', pathname: `/${loc}` });
    check('RFC 9176 section 5.3.2', 'removal: 2.02', res.code === '2.02', res.code);
    res = await request({ pathname: '/rd-lookup/res', query: `rt=${rt}` });
    check('RFC 9176 section 6', 'the RD goes on answering lookups: 2.05, now empty',
          res.code === '2.05' && res.payload.length === 0, `${res.code} ${res.payload}`);
});
