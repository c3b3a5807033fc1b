'use strict';
// Shared by the interop scripts: requests to core-rd with node-coap, each bounded by a deadline,
// and one printed line per check naming the clause of the RFC it holds the RD to.
// Every script is run as: node SCRIPT.js HOST PORT.
const coap = require('coap');

const host = process.argv[2];
const port = Number(process.argv[3]);
const agent = new coap.Agent({ type: host.includes(':') ? 'udp6' : 'udp4' });
let failed = 0;

// check('RFC 9176 section 5', 'registration answers 2.01', ok, 'got 4.00'): one line per check.
function check(clause, what, ok, detail) {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${clause}: ${what}${ok ? '' : ` (${detail})`}`);
    if (!ok) {
        failed++;
    }
    return ok;
}

// One request with its options set as given (Buffers go out as they are); resolves with the
// response, rejects after ms milliseconds, so a silent server fails the step, not the suite.
function request(opts, payload, ms = 5000) {
    return new Promise((resolve, reject) => {
        const { options = [], ...url } = opts;
        const req = coap.request({ host, port, agent, retrySend: 2, ...url });
        const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);

        for (const [name, value] of options) {
            req.setOption(name, value);
        }
        req.on('response', (res) => {
            clearTimeout(timer);
            resolve(res);
        });
        req.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
        });
        req.end(payload);
    });
}

// The values of option @p name in @p res, as node-coap converted them.
function option(res, name) {
    return res.options.filter((o) => o.name === name).map((o) => o.value);
}

// The registration resource a 2.01 names in its Location-Path options, as "rd/<id>".
function location(res) {
    return option(res, 'Location-Path').map(String).join('/');
}

// Run @p steps (an async function), never for longer than @p ms; exit 1 on any failed check.
function main(steps, ms = 60000) {
    const timer = setTimeout(() => {
        console.log(`FAIL ${process.argv[1]}: not done in ${ms} ms`);
        process.exit(1);
    }, ms);
    steps()
        .catch((err) => check('script', 'runs to its end', false, err.message))
        .finally(() => {
            clearTimeout(timer);
            process.exit(failed ? 1 : 0);
        });
}

module.exports = { coap, host, port, check, request, option, location, main };
