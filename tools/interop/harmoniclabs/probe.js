// An independent implementation against the reference peer: the mini-protocol clients of
// @harmoniclabs/ouroboros-miniprotocols-ts (TypeScript) talk to `ouroboros-conformance serve`.
//
//   node probe.js n2n HOST PORT MAGIC     handshake, chain-sync (20 requests), block-fetch, keep-alive
//   node probe.js n2c SOCKET MAGIC        handshake, local chain-sync, local state query, local tx submission
//
// The last line printed is one JSON summary of what the package saw; tests/interop reads it, and the
// serving side's own verdict (its exit status and transcript) says whether the package kept the rules.
// Workarounds for the package's own defects are marked "package:" (docs/interop.md lists them).
"use strict";
const net = require("net");
const { blake2b } = require("@noble/hashes/blake2b");
const M = require("@harmoniclabs/ouroboros-miniprotocols-ts");
const { KeepAliveClient } = require("@harmoniclabs/ouroboros-miniprotocols-ts/dist/protocols/keep-alive/KeepAliveClient.js"); // package: not exported
const { Cbor, CborArray, CborTag, CborUInt } = require("@harmoniclabs/cbor");

const STEP_MS = 10000;
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const hash = (bytes) => hex(blake2b(bytes, { dkLen: 32 }));
const within = (promise, what) =>
    Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer: ${what}`)), STEP_MS))]);

async function nodeToNode(host, port, magic) {
    const mux = new M.Multiplexer({ protocolType: "node-to-node", connect: () => net.connect({ host, port }) });
    const out = { mode: "node-to-node" };
    const reply = await within(
        new M.HandshakeClient(mux).propose({ networkMagic: magic, initiatorOnlyDiffusionMode: true, peerSharing: false, query: false }),
        "handshake",
    );
    out.handshake = reply.constructor.name;
    if (!(reply instanceof M.HandshakeAcceptVersion)) return finish(mux, out);
    out.version = Number(reply.versionNumber);

    const chainSync = new M.ChainSyncClient(mux);
    const found = await within(chainSync.findIntersect([M.ChainPoint.origin]), "MsgFindIntersect");
    out.intersection = found.constructor.name;
    const headers = []; // {slot, hash, prev}
    out.rollbacks = 0;
    for (let i = 0; i < 20; i++) {
        const next = await within(chainSync.requestNext(), "MsgRequestNext");
        if (next instanceof M.ChainSyncRollBackwards) { out.rollbacks++; continue; }
        const wrapped = next.data; // [era, #6.24(header bytes)]
        const bytes = wrapped.array[1].data.bytes;
        const body = Cbor.parse(bytes).array[0].array;
        const prev = body[2].bytes === undefined ? null : hex(body[2].bytes);
        headers.push({ slot: Number(body[1].num), hash: hash(bytes), prev });
    }
    out.headers = headers.length;
    out.linked = headers.every((h, i) => i === 0 || h.prev === headers[i - 1].hash);

    const blockFetch = new M.BlockFetchClient(mux);
    const point = (h) => new M.ChainPoint({ blockHeader: { slotNumber: h.slot, hash: Buffer.from(h.hash, "hex") } });
    const blocks = await within(blockFetch.requestRange(point(headers[2]), point(headers[6])), "MsgRequestRange");
    out.blocks = Array.isArray(blocks) ? blocks.length : 0;
    out.blocks_match = Array.isArray(blocks) && blocks.every((b, i) => {
        let content = Cbor.parse(b.getBlockBytes());
        if (content instanceof CborTag) content = Cbor.parse(content.data.bytes);
        return hash(Cbor.encode(content.array[1].array[0]).toBuffer()) === headers[2 + i].hash;
    });
    blockFetch.done();

    const keepAlive = new KeepAliveClient(mux);
    const answer = await within(keepAlive.request(4242), "MsgKeepAlive");
    out.cookie = Number(answer.cookie);
    keepAlive.done();
    chainSync.done();
    return finish(mux, out);
}

async function nodeToClient(path, magic) {
    const mux = new M.Multiplexer({ protocolType: "node-to-client", connect: () => net.connect({ path }) });
    const out = { mode: "node-to-client" };
    // package: its node-to-client version data writes initiatorOnlyDiffusionMode where the query flag goes
    const reply = await within(
        new M.HandshakeClient(mux).propose({ networkMagic: magic, query: false, initiatorOnlyDiffusionMode: false }),
        "handshake",
    );
    out.handshake = reply.constructor.name;
    if (!(reply instanceof M.HandshakeAcceptVersion)) return finish(mux, out);
    out.version = Number(reply.versionNumber) & 0x7fff;

    const chainSync = new M.ChainSyncClient(mux);
    await within(chainSync.findIntersect([M.ChainPoint.origin]), "MsgFindIntersect");
    out.whole_blocks = 0;
    for (let i = 0; i < 5; i++) {
        const next = await within(chainSync.requestNext(), "MsgRequestNext");
        if (next instanceof M.ChainSyncRollForward) out.whole_blocks++;
    }
    chainSync.done();

    const query = new M.LocalStateQueryClient(mux);
    await within(query.acquire(), "MsgAcquire");
    const result = async (tag) => Cbor.encode((await within(query.query(new CborArray([new CborUInt(tag)])), `query ${tag}`)).result).toBuffer();
    out.block_no = hex(await result(2));
    out.chain_point = hex(await result(3));
    out.current_era = Number(await within(query.requestCurrentEra(), "GetCurrentEra"));
    query.release();
    query.done();

    // package: submit() sends [0, bytes(tx)], not [0, [era, #6.24(tx)]]: the GenTx goes out as bytes here
    const submit = new M.LocalTxSubmitClient(mux);
    const verdict = new Promise((resolve) => {
        submit.once("accept", () => resolve("MsgAcceptTx"));
        submit.once("reject", () => resolve("MsgRejectTx"));
    });
    const genTx = Buffer.from("8201d8185483a4008001800200031bffffffffffffffffa0f6", "hex"); // a golden Shelley GenTx
    mux.send(Buffer.concat([Buffer.from("8200", "hex"), genTx]), { hasAgency: true, protocol: M.MiniProtocol.LocalTxSubmission });
    out.submitted = await within(verdict, "MsgSubmitTx");
    submit.done();
    return finish(mux, out);
}

async function finish(mux, out) {
    await new Promise((resolve) => setTimeout(resolve, 300)); // the Done messages leave before the close
    mux.close({ closeSocket: true });
    return out;
}

const [mode, ...args] = process.argv.slice(2);
const run = mode === "n2n" ? nodeToNode(args[0], Number(args[1]), Number(args[2])) : nodeToClient(args[0], Number(args[1]));
run.then(
    (out) => { console.log(JSON.stringify(out)); process.exit(0); },
    (error) => { console.log(JSON.stringify({ mode, error: String(error && error.message || error) })); process.exit(1); },
);
