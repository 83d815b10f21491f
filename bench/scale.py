"""bench/run --scale: issue 18's scale scenarios (large rooms, 19,000 connections, soak), driven from bench/run.

Each scenario starts a fresh server per target (and per room size), runs parley-bench's matching mode
(largeroom / connections / soak, see ParleyBench/Scale.swift), prints a table and adds its JSON to results["scale"].
Targets: parley-sio, parley-ws (large-room), `parley` (connections and soak: one Parley, clients half Socket.IO
and half /ws; chosen whenever --only names a Parley target), peer, ceiling.
"""
import csv, datetime, os, statistics, subprocess, sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def f(x, fmt="{:,.0f}"):
    return "-" if x is None else fmt.format(x)


def mix_targets(targets):
    """connections/soak: Parley once, as a half-sio half-/ws mix."""
    out = []
    for t in targets:
        t = "parley" if t.startswith("parley") else t
        if t not in out and t in ("parley", "peer", "ceiling"):
            out.append(t)
    return out


def run(args, targets, start, stop, gen, free_port, venv, sh, results):
    only = args.scale_only.split(",")
    unknown = set(only) - {"large-room", "connections", "soak"}
    if unknown:
        sys.exit(f"--scale-only: unknown scenario(s) {', '.join(sorted(unknown))}")
    results["scale"] = {}
    if "large-room" in only:
        results["scale"]["largeRoom"] = large_room(args, targets, start, stop, gen, free_port)
    if "connections" in only:
        results["scale"]["connections"] = connections(args, mix_targets(targets), start, stop, gen, free_port)
    if "soak" in only:
        results["scale"]["soak"] = soak(args, args.soak_targets.split(","), start, stop, gen, free_port, venv, sh)


def mix(t):
    return ["--mix", "sio,ws"] if t == "parley" else []


# MARK: large rooms

def large_room(args, targets, start, stop, gen, free_port):
    sizes = [int(x) for x in args.room_members.split(",")]
    fair = args.fairness_members or max(sizes)
    rounds = []
    for rnd in range(args.rounds):
        if args.rounds > 1: print(f"\n##### large-room round {rnd + 1} of {args.rounds}", flush=True)
        this = {}
        for m in sizes:
            room_sizes = [m] + ([args.small_room] if m == fair and args.small_room > 1 else [])
            rate = args.room_deliveries / (m - 1)
            for t in targets:
                port = free_port()
                proc, d, setup = start(t, port, f"room{m}", ["--room-sizes", ",".join(map(str, room_sizes)), "--idle-users", "1",
                                                             "--parallel", "32"])
                try:
                    r = gen(t, "largeroom", port, proc.pid, d, setup,
                            ["--clients", str(sum(room_sizes)), "--room-sizes", ",".join(map(str, room_sizes)),
                             "--senders", "1", "--rate", f"{rate:.4f}", "--small-rate", str(args.small_rate),
                             "--seconds", str(args.room_seconds), "--connect-concurrency", str(args.connect_concurrency),
                             "--connect-timeout", "300"], 900)
                finally:
                    stop(proc)
                this[f"{t}/{m}"] = r
        rounds.append(this)
        print_large_room(args, targets, sizes, fair, this, f"large rooms, round {rnd + 1} of {args.rounds}" if args.rounds > 1 else "large rooms")
    if len(rounds) > 1:
        print(f"\n=== large rooms: server CPU µs per delivery and p99, median of {len(rounds)} rounds ===")
        print(f"{'target':<11} {'members':>7} {'µs/deliv':>9} {'p99 ms':>8}")
        for m in sizes:
            for t in targets:
                rs = [(r.get(f"{t}/{m}") or {}).get("big") or {} for r in rounds]
                us = [x["serverCPUusPerDelivery"] for x in rs if x.get("serverCPUusPerDelivery")]
                p99 = [x["p99ms"] for x in rs if "p99ms" in x]
                print(f"{t:<11} {m:>7,} {f(statistics.median(us) if us else None, '{:.1f}'):>9} {f(statistics.median(p99) if p99 else None, '{:.1f}'):>8}")
    return {"rounds": rounds, "members": sizes, "deliveriesPerSec": args.room_deliveries, "seconds": args.room_seconds}


def print_large_room(args, targets, sizes, fair, this, title):
    print(f"\n=== {title}: one sender, {args.room_deliveries:,.0f} deliveries/s in total, {args.room_seconds:.0f} s per size; "
          f"CPU over the sending window ===")
    print(f"{'target':<11} {'members':>7} {'msgs/s':>8} {'deliv/s':>9} {'loss%':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} "
          f"{'srv CPU%':>8} {'µs/deliv':>8} {'conn/s':>7}")
    for m in sizes:
        for t in targets:
            r = this.get(f"{t}/{m}")
            b = (r or {}).get("big")
            if not b:
                print(f"{t:<11} {m:>7,} (no result{'' if not r else ': ' + str(r.get('health', {}).get('lastError', ''))[:80]})"); continue
            print(f"{t:<11} {m:>7,} {b['msgsPerSec']:>8,.0f} {b['deliveriesPerSec']:>9,.0f} {b['loss']*100:>6.2f} {b['p50ms']:>7.2f} "
                  f"{b['p99ms']:>7.2f} {b['maxms']:>8.2f} {b['serverCPU']:>8.0f} {f(b.get('serverCPUusPerDelivery'), '{:.1f}'):>8} "
                  f"{r.get('rampPerSec', 0):>7,.0f}" + (f"  ({r['ready']:,} of {r['clients']:,} connected)" if r.get("ready", 0) < r.get("clients", 0) else ""))
    smalls = [(t, (this.get(f"{t}/{fair}") or {}).get("small")) for t in targets]
    if any(s for _, s in smalls):
        print(f"--- the {args.small_room}-member room beside the {fair:,}-member one ({args.small_rate:.0f} msgs/s; issue: p99 <= 20 ms)")
        for t, s in smalls:
            if s: print(f"{t:<11} {s['deliveriesPerSec']:>9,.0f} deliv/s, loss {s['loss']*100:.2f}%, p50 {s['p50ms']:.2f} ms, "
                        f"p99 {s['p99ms']:.2f} ms, max {s['maxms']:.2f} ms")


# MARK: connections

def connections(args, targets, start, stop, gen, free_port):
    users = args.conn_users or args.conn_clients
    senders = min(args.trickle_senders, args.conn_clients)
    rate = args.trickle_rate / senders
    rounds = []
    for rnd in range(args.rounds):
        if args.rounds > 1: print(f"\n##### connections round {rnd + 1} of {args.rounds}", flush=True)
        this = {}
        for t in targets:
            port = free_port()
            proc, d, setup = start(t, port, "conns", ["--users", str(users), "--rooms", str(args.scale_rooms),
                                                      "--rooms-per-user", str(args.rooms_per_user), "--idle-users", "1",
                                                      "--parallel", "32"])
            try:
                this[t] = gen(t, "connections", port, proc.pid, d, setup,
                              ["--clients", str(args.conn_clients), "--rooms", str(args.scale_rooms),
                               "--rooms-per-user", str(args.rooms_per_user), "--senders", str(senders), "--rate", f"{rate:.4f}",
                               "--hold-seconds", str(args.hold_seconds), "--connect-concurrency", str(args.connect_concurrency),
                               "--connect-timeout", "600", "--ws-ping-interval", str(args.ws_ping_interval),
                               "--late-slack", str(args.late_slack)] + mix(t),
                              2 * args.hold_seconds + 1800)
            finally:
                stop(proc)
        rounds.append(this)
        print_connections(args, targets, this, f"connections, round {rnd + 1} of {args.rounds}" if args.rounds > 1 else "connections")
    return {"rounds": rounds, "clients": args.conn_clients, "users": users}


def print_connections(args, targets, this, title):
    print(f"\n=== {title}: {args.conn_clients:,} connections (parley: half sio, half /ws), {args.rooms_per_user} of "
          f"{args.scale_rooms} rooms each, trickle {args.trickle_rate:.0f} msgs/s, holds of {args.hold_seconds:.0f} s ===")
    print(f"{'target':<8} {'phase':<10} {'ready':>6} {'conn/s':>7} {'KiB/conn':>8} {'deliv/s':>8} {'loss%':>6} {'p99 ms':>7} "
          f"{'max ms':>8}  {'heartbeats: max gap / interval s, late':<38} lost/errors")
    for t in targets:
        r = this.get(t)
        if not r: print(f"{t:<8} (no result)"); continue
        for phase, hold, hb, ready, secs, rss, health in (
                ("first", r.get("hold"), r.get("heartbeats"), r.get("ready"), r.get("connectSeconds"), r.get("rssPerConnBytes"), r.get("health")),
                ("reconnect", r.get("holdAfterReconnect"), r.get("heartbeatsAfterReconnect"), r.get("reconnectReady"),
                 r.get("reconnectSeconds"), r.get("rssPerConnAfterReconnectBytes"), r.get("healthAfterReconnect"))):
            if ready is None: continue
            hold, hb, health = hold or {}, hb or {}, health or {}
            ramp = ready / secs if secs else None
            print(f"{t:<8} {phase:<10} {ready:>6,} {f(ramp):>7} {f(rss / 1024 if rss else None, '{:.1f}'):>8} "
                  f"{f(hold.get('deliveriesPerSec')):>8} {f(hold['loss'] * 100 if 'loss' in hold else None, '{:.2f}'):>6} "
                  f"{f(hold.get('p99ms'), '{:.2f}'):>7} {f(hold.get('maxms'), '{:.1f}'):>8}  {beats(hb):<38} "
                  f"{health.get('connsLost', '-')}/{health.get('errors', '-')}"
                  + (f"  all back {secs:.2f} s after the drop" if phase == "reconnect" and secs else ""))


def beats(hb):
    """sio 25.0/25 ws 10.0/10 late 0 (late: gaps over interval + slack, and clients overdue at the end)."""
    if not hb: return "none (no server heartbeat)"
    late = sum(x["late"] + x["openLate"] for x in hb.values())
    return " ".join(f"{k} {x['maxGapS']:.1f}/{x['intervalS']:.0f}" for k, x in sorted(hb.items())) + f" late {late}"


# MARK: soak

def soak(args, targets, start, stop, gen, free_port, venv, sh):
    senders = min(args.trickle_senders, args.soak_clients)
    rate = args.trickle_rate / senders
    day = datetime.date.today().isoformat()
    os.makedirs(RESULTS, exist_ok=True)
    out = {}
    for t in targets:
        port = free_port()
        proc, d, setup = start(t, port, "soak", ["--users", str(args.soak_clients), "--rooms", str(args.scale_rooms),
                                                 "--rooms-per-user", str(args.rooms_per_user), "--idle-users", "1", "--parallel", "32"])
        path = os.path.join(RESULTS, f"{day}-soak-{t}.csv")
        try:
            r = gen(t, "soak", port, proc.pid, d, setup,
                    ["--clients", str(args.soak_clients), "--rooms", str(args.scale_rooms), "--rooms-per-user", str(args.rooms_per_user),
                     "--senders", str(senders), "--rate", f"{rate:.4f}", "--typists", str(args.typists),
                     "--churn-count", str(args.churn_count), "--churn-every", str(args.churn_every),
                     "--soak-minutes", str(args.soak_minutes), "--sample-seconds", "10", "--csv", path,
                     "--connect-concurrency", str(args.connect_concurrency), "--connect-timeout", "600",
                     "--ws-ping-interval", str(args.ws_ping_interval), "--late-slack", str(args.late_slack)] + mix(t),
                    args.soak_minutes * 60 + 1200)
        finally:
            stop(proc)
        r = r or {}
        r.update(trend(path))
        r["png"] = chart(path, t, venv, sh)
        out[t] = r
    print(f"\n=== soak: {args.soak_clients:,} connections for {args.soak_minutes:g} min, trickle {args.trickle_rate:.0f} msgs/s, "
          f"{args.typists} typists, {args.churn_count} reconnects every {args.churn_every:g} s ===")
    print(f"{'target':<8} {'samples':>7} {'RSS first':>10} {'RSS last':>10} {'slope 2nd half':>15} {'fds first':>9} {'fds last':>8} "
          f"{'p99 max':>8}  csv / png")
    for t in targets:
        r = out.get(t) or {}
        if not r.get("samples"): print(f"{t:<8} (no samples)"); continue
        print(f"{t:<8} {r['samples']:>7} {r['rssFirstKiB']:>7,} KiB {r['rssLastKiB']:>7,} KiB {r['rssSlopeKiBPerMin']:>+9.1f} KiB/min "
              f"{r['fdsFirst']:>9} {r['fdsLast']:>8} {r['p99MaxMs']:>8.1f}  {os.path.relpath(r['csv'])} / {r['png'] or '-'}")
    return out


def trend(path):
    """Least-squares slope of RSS over the second half (KiB/min), first/last RSS and fds, from the CSV."""
    try:
        rows = list(csv.DictReader(open(path)))
    except OSError:
        return {}
    if not rows:
        return {}
    xs = [float(r["elapsed_s"]) / 60 for r in rows]
    ys = [float(r["rss_kib"]) for r in rows]
    half = len(rows) // 2
    hx, hy = xs[half:], ys[half:]
    slope = 0.0
    if len(hx) >= 2:
        mx, my = sum(hx) / len(hx), sum(hy) / len(hy)
        den = sum((x - mx) ** 2 for x in hx)
        slope = sum((x - mx) * (y - my) for x, y in zip(hx, hy)) / den if den else 0.0
    return {"csv": path, "samples": len(rows), "rssFirstKiB": int(ys[0]), "rssLastKiB": int(ys[-1]), "rssSlopeKiBPerMin": slope,
            "fdsFirst": int(rows[0]["fds"]), "fdsLast": int(rows[-1]["fds"]),
            "p99MaxMs": max(float(r["p99_ms_window"]) for r in rows)}


def chart(path, target, venv, sh):
    """RSS and descriptors over time as a PNG beside the CSV (matplotlib in bench/run's venv)."""
    if not os.path.exists(path):
        return None
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        sh([sys.executable, "-m", "venv", venv])
    if subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode != 0:
        sh([os.path.join(venv, "bin", "pip"), "install", "-q", "matplotlib"])
    png = path[:-4] + ".png"
    script = f"""
import csv, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = list(csv.DictReader(open({path!r})))
t = [float(r["elapsed_s"]) / 60 for r in rows]
fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
ax.plot(t, [float(r["rss_kib"]) / 1024 for r in rows], color="tab:blue", label="RSS (MiB)")
ax.set_xlabel("minutes"); ax.set_ylabel("RSS (MiB)", color="tab:blue")
ax.set_ylim(0, 1.2 * max(float(r["rss_kib"]) / 1024 for r in rows))
ax2 = ax.twinx()
ax2.plot(t, [int(r["fds"]) for r in rows], color="tab:orange", label="open descriptors")
ax2.set_ylabel("open descriptors", color="tab:orange"); ax2.set_ylim(0, 1.4 * max(int(r["fds"]) for r in rows))
ax.set_title("soak: {target}, server RSS and descriptors")
fig.tight_layout(); fig.savefig({png!r})
"""
    res = subprocess.run([py, "-c", script], capture_output=True, text=True)
    if res.returncode != 0:
        print(f"chart failed: {res.stderr[-300:]}")
        return None
    return os.path.relpath(png)
