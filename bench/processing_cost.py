"""What the processing flags cost logwrap: against logwrap before them, and against Fluent Bit.

    PATH=/path/to/fluent-bit/bin:$PATH python bench/processing_cost.py [--lines N] [--rounds N]
        [--baseline REF] [--parse NAME] [--fluent-bit-parsers FILE]

Every run reads N lines from a child (`cat`) that writes them as fast as it can and delivers
them with acks to `shipper receive --count`; its time is until its process exits with every
record acknowledged, and the receiver's count is checked against what the run must deliver.
Runs alternate, and the median of each is kept (a run is 2-10 s on a noisy 2-core machine).
This tree's logwrap and the baseline's run with PYTHONPATH at their tree and PYTHONSAFEPATH=1,
so neither can import the other's code from the working directory, and with `--on-full block`:
when the machine's other work slows the receiver, logwrap waits for it as Fluent Bit does,
instead of dropping what its buffer cannot hold (the count would not match). Fluent Bit is the
`fluent-bit` on PATH, fed by `cat FILE | fluent-bit` (it reads stdin only from a pipe), with
`-f 1`: it exits on a 1-second tick, so its wall time carries up to a second of slack.

1. No processing flag: logwrap against itself at --baseline (default: the parent of the commit
   that added shipper/processing/), checked out with `git worktree add` into a temporary
   directory and its C extension compiled there; on N ~200-byte ECS JSON lines.
   Bound: >= 0.95x.
2. Filters: the same lines, about half of whose messages start with "req".
   `logwrap --drop 'message~^req'` against Fluent Bit's
   `-i stdin -F grep -p 'Exclude=message ^req' -m '*' -o forward`: both must deliver the
   records whose message does not start with "req". Bound: >= 2x. Beside it, for information,
   `logwrap --drop log.level=debug` (it drops the quarter of debug records), one run of the
   same with SHIPPER_PURE_PYTHON=1, and one run of Fluent Bit's
   `-F grep -p 'Exclude=log.level debug'`, whose delivered count is printed: its grep cannot
   address a dotted top-level key.
3. Parsing: N nginx "combined" access lines (varied clients, requests, statuses, sizes,
   referers and user agents). `logwrap --parse nginx` against Fluent Bit's
   `-i stdin -p parser=nginx`, with the nginx [PARSER] of Fluent Bit's bundled parsers.conf
   (copied below, or --fluent-bit-parsers FILE). Bound: >= 1.5x. `--parse` picks another
   logwrap parser, to try the harness where nginx is not there.

Records/s is records read (N over the run's time, what the filters leave out included); CPU is
the process's user+system seconds with its `cat`, per million lines. The exit status is 1 when
a bound is missed or a run could not be made.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile

from common import LOGWRAP, CountingReceiver, delivered_run, measured

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(HERE)
ROUNDS = 5
FIRST_PROCESSING = "shipper/processing/__init__.py"

# Fluent Bit 4.2.8's conf/parsers.conf, its nginx entry as it is there.
NGINX_PARSER = r"""[PARSER]
    Name   nginx
    Format regex
    Regex ^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^\"]*?)(?: +\S*)?)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^\"]*)" "(?<agent>[^\"]*)")
    Time_Key time
    Time_Format %d/%b/%Y:%H:%M:%S %z
"""  # noqa: E501 (as it is there)

REQUESTS = ["request started", "request finished", "request failed", "requests queued"]
OTHERS = ["cache miss", "user signed in", "payment authorised", "slow query", "job done", "retrying"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "kube-probe/1.31",
]
PATHS = ["/", "/api/v1/items/{n}", "/api/v1/orders?page={p}&per_page=50", "/static/js/app.3f9a1c.js",
         "/static/css/site.css", "/images/products/{n}.webp", "/login", "/search?q=blue+shoes&sort=price",
         "/cart", "/healthz", "/favicon.ico", "/checkout/confirm"]
STATUSES = [200] * 30 + [201, 204, 301, 302, 304, 304, 304, 400, 401, 403, 404, 404, 404, 429, 499,
                         500, 502, 503]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def ecs_lines(count: int) -> tuple[str, int, int]:
    """A file of ``count`` ~200-byte ECS JSON lines; returns it, the number of lines whose message
    does not start with "req", and the number of lines at log.level debug."""
    path = os.path.join(tempfile.gettempdir(), f"shipper-bench-ecs-v2-{count}.jsonl")
    if not os.path.exists(path):
        rng = random.Random(15)
        with open(path + ".part", "w") as out:
            for n in range(count):
                second, micros = divmod(n, 1_000_000)
                level = rng.choice(("debug", "info", "info", "warning"))
                status = rng.choice(STATUSES)
                if rng.random() < 0.5:
                    message = f"{rng.choice(REQUESTS)} GET /api/v1/items/{rng.randrange(10**5)} {status}"
                else:
                    message = f"{rng.choice(OTHERS)} for order {rng.randrange(10**6)}"
                out.write(
                    f'{{"@timestamp":"2026-11-28T00:{second // 60:02d}:{second % 60:02d}.{micros:06d}Z",'
                    f'"log.level":"{level}","message":"{message}","service.name":"shop-web",'
                    f'"process.pid":{rng.randrange(1000, 4000)},'
                    f'"http":{{"status":{status},"bytes":{rng.randrange(10**5)}}}}}\n')
        os.replace(path + ".part", path)
    kept = debug = 0
    with open(path, "rb") as lines:
        for line in lines:
            kept += b'"message":"req' not in line
            debug += b'"log.level":"debug"' in line
    return path, kept, debug


def nginx_lines(count: int) -> str:
    """A file of ``count`` nginx "combined" access lines, as a busy shop's front writes them."""
    path = os.path.join(tempfile.gettempdir(), f"shipper-bench-nginx-v1-{count}.log")
    if os.path.exists(path):
        return path
    rng = random.Random(15)
    clients = [f"{rng.randint(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"
               for _ in range(5000)]
    with open(path + ".part", "w") as out:
        for n in range(count):
            day, second = divmod(n // 2000, 86400)  # 2,000 requests a second
            clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            stamp = f"{1 + day % 28:02d}/{MONTHS[10]}/2026:{clock} +0000"
            method = rng.choice(("GET",) * 12 + ("POST", "POST", "PUT", "DELETE", "HEAD"))
            target = rng.choice(PATHS).format(n=rng.randrange(10**5), p=rng.randint(1, 40))
            status = rng.choice(STATUSES)
            size = 0 if status in (204, 304) or method == "HEAD" else rng.randrange(120, 250_000)
            referer = rng.choice(("-", "-", "https://shop.example.com/", "https://shop.example.com/cart",
                                  "https://www.google.com/"))
            user = "-" if rng.random() < 0.97 else rng.choice(("alice", "bob"))
            protocol = rng.choice(("HTTP/1.1", "HTTP/1.1", "HTTP/2.0"))
            out.write(f'{rng.choice(clients)} - {user} [{stamp}] "{method} {target} {protocol}" {status} '
                      f'{size} "{referer}" "{rng.choice(AGENTS)}"\n')
    os.replace(path + ".part", path)
    return path


class Tree:
    """A logwrap tree run in its own environment: PYTHONPATH at it, its C extension built."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.env = {**os.environ, "PYTHONPATH": root, "PYTHONSAFEPATH": "1"}

    def build(self) -> None:
        include = sysconfig.get_paths()["include"]
        wrap = os.path.join(self.root, "shipper", "wrap")
        target = os.path.join(wrap, "_fastpack" + sysconfig.get_config_var("EXT_SUFFIX"))
        subprocess.run(["gcc", "-O2", "-Wall", "-shared", "-fPIC", f"-I{include}",
                        os.path.join(wrap, "_fastpack.c"), "-o", target], check=True)

    def check(self, processing: bool | None) -> None:
        """The tree's own code is what runs, with its C extension; it has shipper/processing/ or
        not (None: either)."""
        probe = "import shipper.wrap.records as r; print(r.__file__, r.ACCELERATED)"
        out = subprocess.run([sys.executable, "-c", probe], env=self.env, capture_output=True, text=True,
                             check=True).stdout.split()
        has = os.path.exists(os.path.join(self.root, FIRST_PROCESSING))
        if out != [os.path.join(self.root, "shipper", "wrap", "records.py"), "True"] or (
                processing is not None and has != processing):
            sys.exit(f"{self.root}: expected its own shipper, accelerated, with shipper/processing/: "
                     f"{processing}; got {out}, {has}")

    def logwrap(self, path: str, *flags: str):  # type: ignore[no-untyped-def]
        return lambda r: ([*LOGWRAP, "--to", r.url, "--on-full", "block", *flags, "--", "cat", path], None)


def fluent_bit(path: str, *options: str):  # type: ignore[no-untyped-def]
    """`cat FILE | fluent-bit -i stdin OPTIONS -o forward`, acks on (as logwrap_throughput.py)."""
    def command(receiver: CountingReceiver) -> tuple[list[str], object]:
        quoted = " ".join(f"'{option}'" for option in options)
        line = (f"{shutil.which('fluent-bit')} -q {quoted} -o forward -p host=127.0.0.1 "
                f"-p port={receiver.port} -p require_ack_response=true -f 1")
        return ["sh", "-c", f'cat "$1" | exec {line}', "sh", path], None
    return command


def counted(command_for, env: dict[str, str] | None = None) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    """Run ``command_for(receiver)`` to its end without a count to meet:
    (wall seconds, CPU seconds, records the receiver counted, exit status)."""
    receiver = CountingReceiver()
    command, stdin = command_for(receiver)
    wall, cpu, _, status = measured(command, stdin=stdin, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=env)
    return wall, cpu, receiver.stop(), status


class Table:
    """Runs by name, in alternating rounds; each row is the median of its runs."""

    def __init__(self, lines: int) -> None:
        self.lines = lines
        self.runs: dict[str, list[tuple[float, float]]] = {}
        self.delivered: dict[str, int] = {}
        self.summaries: dict[str, list[str]] = {}

    def run(self, name: str, command_for, records: int, env: dict[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
        summaries = self.summaries.setdefault(name, [])
        _, wall, cpu = delivered_run(name, command_for, self.lines, env, records=records,
                                     summaries=summaries if "logwrap" in name else None)
        self.runs.setdefault(name, []).append((wall, cpu))
        self.delivered[name] = records

    def wall(self, name: str) -> float:
        return statistics.median(wall for wall, _ in self.runs[name])

    def print(self, reference: str) -> None:
        print(f"    {'':52}{'runs':>5}{'seconds':>9}{'records/s':>11}{'delivered':>11}{'CPU s / 1M':>12}"
              f"{'ratio':>8}")
        for name, runs in self.runs.items():
            wall, cpu = self.wall(name), statistics.median(cpu for _, cpu in runs)
            ratio = f"{self.wall(reference) / wall:.2f}x" if reference in self.runs else "-"
            print(f"    {name:52}{len(runs):>5}{wall:>9.2f}{self.lines / wall:>11,.0f}"
                  f"{self.delivered[name]:>11,}{cpu * 1e6 / self.lines:>12.2f}{ratio:>8}")
        print(f"    (ratio: the reference's median seconds over the row's; reference: {reference})")


class Verdicts:
    def __init__(self) -> None:
        self.missed: list[str] = []

    def bound(self, what: str, ratio: float, bound: float) -> str:
        if ratio < bound:
            self.missed.append(f"{what}: {ratio:.2f}x, under the {bound}x bound by {(1 - ratio / bound):.0%}")
        return f"{ratio:.2f}x ({'ok' if ratio >= bound else 'UNDER'} the {bound}x bound)"

    def fail(self, why: str) -> None:
        self.missed.append(why)


def tick(table: Table, peer: str, ours: str) -> str:
    """The ratio were Fluent Bit's last tick a whole idle second (the most its exit can add)."""
    if table.wall(peer) < 3:
        return "Fluent Bit's time is mostly its exit's 1 s tick at this size"
    return f"{(table.wall(peer) - 1) / table.wall(ours):.2f}x were Fluent Bit's last second idle"


def baseline_ref(ref: str | None) -> str:
    if ref is not None:
        return ref
    added = git("log", "--diff-filter=A", "--format=%H", "--", FIRST_PROCESSING).split()
    if not added:
        sys.exit(f"no commit adds {FIRST_PROCESSING} in {TREE}: give --baseline REF")
    return added[-1] + "^"


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", TREE, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def no_processing(current: Tree, baseline: Tree, ref: str, path: str, lines: int, rounds: int,
                  verdicts: Verdicts) -> None:
    table = Table(lines)
    name = f"logwrap at {ref} (baseline)"
    for _ in range(rounds):
        table.run(name, baseline.logwrap(path), lines, baseline.env)
        table.run("logwrap, no processing flag", current.logwrap(path), lines, current.env)
    print(f"\n1. No processing flag, {lines:,} ECS JSON lines, median of {rounds}, alternating:")
    table.print(name)
    ratio = table.wall(name) / table.wall("logwrap, no processing flag")
    print(f"    {lines / table.wall('logwrap, no processing flag'):,.0f} vs {lines / table.wall(name):,.0f} "
          f"records/s = {verdicts.bound('no processing flag vs baseline', ratio, 0.95)}")


def filters(current: Tree, path: str, lines: int, kept: int, debug: int, rounds: int, verdicts: Verdicts,
            peer: bool) -> None:
    table = Table(lines)
    drop = "logwrap --drop 'message~^req'"
    grep = "fluent-bit -F grep Exclude=message ^req"
    debug_name = "logwrap --drop log.level=debug (information)"
    excluding = fluent_bit(path, "-i", "stdin", "-F", "grep", "-p", "Exclude=message ^req", "-m", "*")
    for _ in range(rounds):
        if peer:
            table.run(grep, excluding, kept)
        table.run(drop, current.logwrap(path, "--drop", "message~^req"), kept, current.env)
        table.run(debug_name, current.logwrap(path, "--drop", "log.level=debug"), lines - debug, current.env)
    pure = {**current.env, "SHIPPER_PURE_PYTHON": "1"}
    table.run(f"{drop} (pure Python)", current.logwrap(path, "--drop", "message~^req"), kept, pure)
    print(f"\n2. Filters, the same lines ({kept:,} do not start with \"req\", {debug:,} are debug), "
          f"median of {rounds}, alternating:")
    table.print(grep if peer else drop)
    print(f"    last summary of {drop}: {table.summaries[drop][-1]}")
    if not peer:
        verdicts.fail("filters: no fluent-bit on PATH, the 2x bound is not checked")
        return
    ratio = table.wall(grep) / table.wall(drop)
    print(f"    {drop}: {lines / table.wall(drop):,.0f} vs {lines / table.wall(grep):,.0f} records/s = "
          f"{verdicts.bound('--drop message~^req vs Fluent Bit grep', ratio, 2.0)}; "
          f"{tick(table, grep, drop)}")
    dotted = fluent_bit(path, "-i", "stdin", "-F", "grep", "-p", "Exclude=log.level debug", "-m", "*")
    wall, _, received, status = counted(dotted)
    print(f"    fluent-bit -F grep -p 'Exclude=log.level debug', one run: delivered {received:,} of "
          f"{lines:,} records ({debug:,} are debug; logwrap --drop log.level=debug delivers "
          f"{lines - debug:,}), exit status {status}, {lines / wall:,.0f} records/s")


def parsing(current: Tree, path: str, lines: int, rounds: int, verdicts: Verdicts, parse: str,
            parsers_file: str | None, peer: bool) -> None:
    table = Table(lines)
    ours = f"logwrap --parse {parse}"
    theirs = "fluent-bit -i stdin -p parser=nginx"
    probe = subprocess.run([*LOGWRAP, "--parse", parse, "--to", "tcp://127.0.0.1:1", "--", "true"],
                           env=current.env, capture_output=True, text=True)
    usable = probe.returncode == 0
    with tempfile.TemporaryDirectory() as scratch:
        if parsers_file is None:
            parsers_file = os.path.join(scratch, "parsers.conf")
            with open(parsers_file, "w") as conf:
                conf.write(NGINX_PARSER)
        nginx = fluent_bit(path, "-R", parsers_file, "-i", "stdin", "-p", "parser=nginx")
        for _ in range(rounds):
            if peer:
                table.run(theirs, nginx, lines)
            if usable:
                table.run(ours, current.logwrap(path, "--parse", parse), lines, current.env)
    print(f"\n3. Parsing, {lines:,} nginx combined lines, median of {rounds}, alternating:")
    if table.runs:
        table.print(theirs if peer else ours)
    if usable:
        print(f"    last summary of {ours}: {table.summaries[ours][-1]}")
    else:
        print(f"    {ours}: not run, logwrap exits {probe.returncode}: {probe.stderr.strip()}")
        verdicts.fail(f"parsing: logwrap --parse {parse} is not usable here, the 1.5x bound is not checked")
    if not peer:
        verdicts.fail("parsing: no fluent-bit on PATH, the 1.5x bound is not checked")
    if usable and peer:
        ratio = table.wall(theirs) / table.wall(ours)
        print(f"    {ours}: {lines / table.wall(ours):,.0f} vs {lines / table.wall(theirs):,.0f} records/s = "
              f"{verdicts.bound(f'--parse {parse} vs Fluent Bit parser=nginx', ratio, 1.5)}; "
              f"{tick(table, theirs, ours)}")


def worktree(ref: str, scratch: str) -> Tree:
    root = os.path.join(scratch, "baseline")
    git("worktree", "add", "--quiet", "--detach", root, ref)
    tree = Tree(root)
    tree.build()
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--baseline", metavar="REF", help="logwrap to compare with when no flag is given "
                        f"[default: the parent of the commit that added {FIRST_PROCESSING}]")
    parser.add_argument("--parse", default="nginx", help="logwrap's parser for the nginx lines")
    parser.add_argument("--fluent-bit-parsers", metavar="FILE", default=os.environ.get("FLUENT_BIT_PARSERS"),
                        help="a parsers.conf with Fluent Bit's nginx parser [default: $FLUENT_BIT_PARSERS, "
                             "else its bundled nginx entry, written by this script]")
    args = parser.parse_args()
    peer = shutil.which("fluent-bit") is not None
    if not peer:
        print("no fluent-bit on PATH: sections 2 and 3 run logwrap only, and the exit status is 1")
    ref = baseline_ref(args.baseline)
    current = Tree(TREE)
    current.check(processing=True)
    verdicts = Verdicts()
    path, kept, debug = ecs_lines(args.lines)
    access = nginx_lines(args.lines)
    scratch = tempfile.mkdtemp(prefix="shipper-bench-baseline-")
    try:
        baseline = worktree(ref, scratch)
        baseline.check(processing=False if args.baseline is None else None)
        named = git("rev-parse", "--short", ref)
        no_processing(current, baseline, named, path, args.lines, args.rounds, verdicts)
    finally:
        where = os.path.join(scratch, "baseline")
        subprocess.run(["git", "-C", TREE, "worktree", "remove", "--force", where], check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    filters(current, path, args.lines, kept, debug, args.rounds, verdicts, peer)
    parsing(current, access, args.lines, args.rounds, verdicts, args.parse, args.fluent_bit_parsers, peer)
    if verdicts.missed:
        sys.exit("\n" + "\n".join(f"MISSED: {why}" for why in verdicts.missed))
    print("\nevery bound met")


if __name__ == "__main__":
    main()
