#!/usr/bin/env python3
"""Split a Go CPU profile of `gossipchain testnet --cpuprofile` into the
parts of a transfer's path (docs/benchmarks.md, "Five nodes: where a
transfer's CPU goes").

Usage: scripts/cpu-breakdown.py BINARY PROFILE [INCLUDED]

Each sample goes to the first part, in the order below, one of whose
patterns matches a frame of its stack, so the parts do not overlap and
add up to the whole. With INCLUDED (the transfers the run included) it
also prints each part's CPU per included transfer. Needs `go` on PATH.
"""
import re, subprocess, sys
cats = [
 ("ed25519 verify", r"crypto/ed25519|edwards25519"),
 ("GC (mark, sweep, assist)", r"runtime\.gcBgMarkWorker|runtime\.gcAssistAlloc|runtime\.bgsweep|runtime\.bgscavenge|runtime\.gcDrain|runtime\.markroot"),
 ("blocks: mining, template", r"node\.\(\*miner\)|chain\.\(\*Chain\)\.NewTemplate|chain\.Solve|chain\.solve"),
 ("blocks: compact rebuild, blocktxn, checkBlock", r"p2p\.\(\*Gossip\)\.checkBlock|p2p/compact|blocktxn|p2p\.\(\*Gossip\)\.rebuild|Compact|BlockTxn"),
 ("blocks: connect, commit, mempool update", r"ProcessEarly|processCheckedLocked|processBlocks|chain\.\(\*Chain\)\.Process|store\.\(\*Store\)\.Apply|Mempool\)\.Reorg|intake\)\.processGossiped"),
 ("blocks: sync (GetBlocks, status)", r"p2p\.\(\*Syncer\)|p2p\.\(\*syncer\)|sync_|fetchBodies|fetchBlock|FetchBlock"),
 ("admission: mempool add", r"chain\.\(\*Mempool\)\.add"),
 ("admission: sanity without signature, fee, intake", r"chain\.checkTxSanity|intake\)\.addTxSince|Mempool\)\.CheckFee|intake\)\.addTxs|Chain\)\.CheckTxsSanity"),
 ("relay publish (own transactions)", r"relay\)\.publishTx|Gossip\)\.PublishTx|Topic\)\.Publish"),
 ("generator (load)", r"main\.\(\*load\)|main\.\(\*sender\)"),
 ("gossip: tx validator rest (decode, log)", r"Gossip\)\.checkTx|Gossip\)\.validator"),
 ("gossip: pubsub (RPC, seen cache, ids, validation pipeline, queues)", r"go-libp2p-pubsub"),
 ("transport: yamux, noise, TCP", r"go-yamux|security/noise|internal/poll|net\.\(\*conn\)|syscall\.|go-libp2p/p2p/net|go-libp2p/p2p/transport|msgio|varint"),
 ("runtime: scheduler, netpoll, timers", r"runtime\.(schedule|findRunnable|mcall|park_m|netpoll|futex|notesleep|stopm|runqgrab|checkTimers|usleep|goexit0|gopark|wakep|startm|mPark|sysmon|newstack|morestack)"),
]
def run(binary, prof):
    out = subprocess.run(["go","tool","pprof","-traces",binary,prof],capture_output=True,text=True).stdout
    tot = {c[0]:0.0 for c in cats}; tot["other"]=0.0
    total=0.0
    blocks = out.split("-----------+-------------------------------------------------------")
    for b in blocks[1:]:
        lines=[l for l in b.strip("\n").split("\n") if l.strip()]
        if not lines: continue
        m=re.match(r"\s*([0-9.]+)(ms|s|us)\s+(.*)",lines[0])
        if not m: continue
        v=float(m.group(1))*{"ms":1e-3,"s":1,"us":1e-6}[m.group(2)]
        frames=[m.group(3)]+[l.strip() for l in lines[1:]]
        stack="\n".join(frames)
        total+=v
        for name,pat in cats:
            if re.search(pat,stack):
                tot[name]+=v; break
        else:
            tot["other"]+=v
    return total,tot
if __name__=="__main__":
    binary,prof=sys.argv[1],sys.argv[2]
    included=int(sys.argv[3]) if len(sys.argv)>3 else 0
    total,tot=run(binary,prof)
    print(f"total {total:.2f} s CPU" + (f", {included} included: {total/included*1e6:.0f} µs per included transfer" if included else ""))
    for name,_ in cats+[("other",None)]:
        v=tot[name]
        print(f"| {name} | {v:.2f} s | {100*v/total:.1f}% |" + (f" {v/included*1e6:.0f} µs |" if included else ""))
