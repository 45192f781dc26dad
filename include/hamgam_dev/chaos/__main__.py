"""`make chaos`: every forward DAG and the reverse flow, over the demo data, through a fault matrix.

Two worlds run the same script, each with its own demo Tadbir copy, ledger, Payamgostar sandbox, hamgam
web app and fault-injecting proxy (hamgam's CRM connection points at the proxy):

1. forward-1  the seven forward DAGs (python -m hamgam_dev.run_dags, i.e. dag.test());
2. reverse    a CRM user makes customers and quotes in the CRM; their webhooks (and those of hamgam's own
              writes) reach the web app; the two reverse DAGs run;
3. forward-2  finance edits and deletes records in Tadbir; the forward DAGs run again;
4. clean      no faults: the forward DAGs, then the reverse DAGs, once.

The *baseline* world runs phases 1-3 without faults: what it ends with is the oracle. The *chaos* world
runs phases 1-3 under faults (5xx before and after the commit, 429 bursts with Retry-After, answers held
past the client's timeout, HTML 200 pages, truncated JSON and SOAP answers, SOAP faults, token
revocation, the DAG process SIGKILLed after a committed but unanswered write and then run again, as a
retry, and the sandbox crashed and restarted mid-run), then phase 4; it must then hold exactly what the
baseline holds (oracle.py says what is checked). Prints the table (per fault: injected, lost, doubled, stuck), each
problem with the faults on its calls, and ends with ``chaos: lost <n> doubled <n> stuck <n>``; exits 1
unless all three are 0 (2 if the harness itself failed).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hamgam_dev.chaos.actors import CrmUser, edit_tadbir
from hamgam_dev.chaos.oracle import (
    Snapshot,
    against_baseline,
    attribute,
    invariants,
    merge,
    table,
    take_snapshot,
)
from hamgam_dev.chaos.proxy import MODES, Call, FaultPlan, Trigger
from hamgam_dev.chaos.world import (
    ENTITIES,
    FORWARD,
    REVERSE,
    ChaosError,
    HarnessEvent,
    World,
    migrate_airflow,
)

DATA_SEED = 1405  # the demo's data; --seed drives the faults
FAULTY_PHASES = ("forward-1", "reverse", "forward-2")
RATES = {"forward-1": 0.06, "reverse": 0.10, "forward-2": 0.15}  # share of calls that get a fault
WEIGHTS = {"slow-timeout": 0.5, "429-burst": 0.5}  # the others weigh 1
CAPS = {"slow-timeout": 3, "429-burst": 3}  # each slow answer costs a worker the client's timeout
PHASE_CAPS = {"reverse": {"slow-timeout": 1}}  # the reverse DAGs call the CRM one call at a time


@dataclass
class Outcome:
    snapshot: Snapshot
    calls: list[Call]
    events: list[HarnessEvent]
    runs: list[dict[str, Any]]
    products: dict[int, list[str]]
    early_retries: int  # calls that came back sooner than the Retry-After of their 429


class Clock:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:5.0f}s] {text}", flush=True)


def plans_for_chaos(seed: int, base: Outcome, kills: int, client_timeout: float) -> dict[str, FaultPlan]:
    """The chaos world's fault plans, kill points included, placed by the baseline's call counts (a kill
    lands mid-entity: after the m-th of its n writes, 1 < m < n)."""
    rng = random.Random(seed)

    def writes(phase: str) -> Counter[str]:
        return Counter(c.entity for c in base.calls if c.phase == phase and c.write and c.forwarded and c.entity)

    def rest_calls(phase: str) -> int:
        return sum(1 for c in base.calls if c.phase == phase and c.protocol == "rest" and c.operation != "auth/login")

    def kill_points(counts: Counter[str], n: int, event: str = "kill-load", avoid: tuple = ()) -> list[Trigger]:
        candidates = [e for e in ENTITIES if counts[e] >= 3 and e not in avoid] or \
                     [e for e in ENTITIES if counts[e] >= 3]
        chosen = rng.sample(candidates, min(n, len(candidates)))
        return [Trigger(event, rng.randint(2, counts[e] - 1), entity=e) for e in chosen]

    def revocations(phase: str, n: int) -> list[Trigger]:
        total = rest_calls(phase)
        return [Trigger("token-revoked", nth, on="rest") for nth in sorted(rng.sample(range(2, total), n))] \
            if total > n + 2 else []

    first_kills = kills - kills // 3  # two thirds in the first pass (most writes), the rest in the second
    f1 = writes("forward-1")
    killed = kill_points(f1, first_kills)
    triggers = {
        "forward-1": killed + kill_points(f1, 1, "sandbox-restart", avoid=tuple(t.entity for t in killed))
        + revocations("forward-1", 2),
        "reverse": revocations("reverse", 1),
        "forward-2": kill_points(writes("forward-2"), kills - first_kills) + revocations("forward-2", 1),
    }
    return {phase: FaultPlan(name=phase, rate=RATES[phase], weights={**dict.fromkeys(MODES, 1.0), **WEIGHTS},
                             caps={**CAPS, **PHASE_CAPS.get(phase, {})}, triggers=triggers[phase],
                             hold_seconds=client_timeout + 3)
            for phase in FAULTY_PHASES}


def run_world(name: str, work: Path, pristine: Path, airflow_home: Path, seed: int, clock: Clock,
              plans: dict[str, FaultPlan] | None, products: dict[int, list[str]] | None, args) -> Outcome:
    baseline = plans is None
    plans = plans or {phase: FaultPlan(name=phase) for phase in FAULTY_PHASES}
    with World(name, work / name, pristine, airflow_home, seed, latency_ms=args.latency_ms,
               client_timeout=args.client_timeout) as world:
        user = CrmUser(world.sandbox.url)

        def phase(label: str, dag_ids: tuple[str, ...], plan: FaultPlan) -> None:
            results = world.run_dags(dag_ids, plan, progress=lambda text: clock.say(f"{name} {label}: {text}"))
            failed = [r["dag_id"].split("__", 1)[1] for r in results if r["state"] != "success"]
            if baseline and failed:  # without faults every run must succeed, or there is no oracle
                raise ChaosError(f"the baseline (no faults) failed in {label}: {', '.join(failed)}; first errors: "
                                 + " | ".join(world.first_errors(plan.name)) + f" (logs in {world.logs})")
            injected = world.proxy.injected(plan.name)
            clock.say(f"{name} {label}: {len(results)} DAG run(s)"
                      + (f", failed: {', '.join(failed)}" if failed else ", all succeeded")
                      + (f"; injected {sum(injected.values())}: " + ", ".join(f"{k} {v}" for k, v in
                                                                               sorted(injected.items()))
                         if injected else ""))
            world.wait_sandbox_up()
            world.sandbox.flush_webhooks()

        phase("forward-1", FORWARD, plans["forward-1"])
        user.make_customers()
        products = products or user.pick_products(world.sandbox.records())
        user.make_quotes(products)
        if user.deferred:
            clock.say(f"{name}: the CRM user waits with quote(s) {', '.join(n for n, _ in user.deferred)}: their "
                      "products are not in the CRM")
        world.sandbox.flush_webhooks()
        phase("reverse", REVERSE, plans["reverse"])
        touched = edit_tadbir(world.demo, pristine, DATA_SEED)
        clock.say(f"{name}: finance edits Tadbir ({', '.join(f'{k} {v}' for k, v in touched.items())})")
        phase("forward-2", FORWARD, plans["forward-2"])
        if not baseline:  # without faults, forward-2 has left everything in step: the oracle is complete
            if user.deferred:
                user.make_quotes(products, tuple(user.deferred))
                world.sandbox.flush_webhooks()
            phase("clean", FORWARD, FaultPlan(name="clean"))
            phase("clean-reverse", REVERSE, FaultPlan(name="clean-reverse"))
        return Outcome(take_snapshot(world, user.made), world.proxy.calls(), list(world.events), list(world.runs),
                       products, len(world.proxy.early_retries()))


def report(base: Outcome, chaos: Outcome, clock: Clock, seed: int) -> dict[str, int]:
    baseline_problems = merge(invariants(base.snapshot, events=False))  # its last webhooks wait for a next run
    problems = merge(invariants(chaos.snapshot), against_baseline(base.snapshot, chaos.snapshot))
    attribute(problems, chaos.calls, chaos.events)
    injected = Counter(c.fault for c in chaos.calls if c.fault)
    injected.update(e.kind for e in chaos.events)
    kinds = Counter(e.kind for e in chaos.events)
    limited = sum(1 for c in chaos.calls if c.fault == "429-burst")
    print()
    print(f"baseline (no faults): {sum(1 for r in base.runs)} DAG runs, {len(base.calls)} CRM calls; chaos: "
          f"{len(chaos.runs)} DAG runs, {len(chaos.calls)} CRM calls, {sum(injected.values())} faults and events "
          f"({kinds['kill-load']} kills, {kinds['sandbox-restart']} sandbox restarts, {kinds['token-revoked']} "
          f"token revocations); {limited} 429 answers, {chaos.early_retries} call(s) came back sooner than their "
          "Retry-After")
    for event in chaos.events:
        down = f", down {event.until - event.at:.1f} s" if event.until else ""
        print(f"  {event.kind} in {event.phase} at {event.call.operation} {event.call.subject}{down}"
              f"{' (' + event.note + ')' if event.note else ''}")
    if baseline_problems:
        print(f"\nThe baseline itself (no faults) breaks the invariants {len(baseline_problems)} time(s) — "
              "defects that need no fault (they show in the chaos run too):")
        for problem in baseline_problems[:15]:
            print("  " + problem.line())
    print()
    for line in table(problems, injected):
        print(line)
    if problems:
        order = {"lost": 0, "doubled": 1, "stuck": 2}
        print(f"\n{len(problems)} problem(s):")
        for problem in sorted(problems, key=lambda p: (order[p.category], p.entity, p.company or 0, p.ident))[:80]:
            print("  " + problem.line())
        if len(problems) > 80:
            print(f"  ... and {len(problems) - 80} more")
        print(f"The same faults again: make chaos CHAOS_ARGS='--seed {seed} --keep'")
    counts = Counter(p.category for p in problems)
    clock.say("done")
    return {c: counts[c] for c in ("lost", "doubled", "stuck")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hamgam_dev.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="picks the faults and the kill points (default 1)")
    parser.add_argument("--scale", type=int, default=1, help="demo data scale (default 1)")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of the DAG process (default 3)")
    parser.add_argument("--latency-ms", type=int, default=5, help="sandbox latency per call (default 5)")
    parser.add_argument("--client-timeout", type=float, default=5.0,
                        help="hamgam's CRM read timeout, seconds; slow answers are held longer (default 5)")
    parser.add_argument("--work", type=Path, help="working directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (it is kept on failure)")
    args = parser.parse_args(argv)

    from tadbir_demo import build_demo

    clock = Clock()
    work = (args.work or Path(tempfile.mkdtemp(prefix="hamgam-chaos-"))).resolve()
    if args.work and work.exists() and any(work.iterdir()):
        raise SystemExit(f"{work} is not empty; the chaos suite needs an empty or new directory")
    clock.say(f"chaos: seed {args.seed}, demo scale {args.scale}, {args.kills} kill(s); working in {work}")
    counts: dict[str, int] | None = None
    try:
        pristine = work / "pristine"
        build_demo(pristine, seed=DATA_SEED, scale=args.scale)
        migrate_airflow(work / "airflow", work / "pristine")
        common = (work, pristine, work / "airflow", args.seed, clock)
        base = run_world("baseline", *common, plans=None, products=None, args=args)
        for phase in FAULTY_PHASES:  # a fault "plan" over nothing would test nothing
            if not any(c.phase == phase for c in base.calls):
                raise ChaosError(f"the baseline made no CRM call in {phase}")
        plans = plans_for_chaos(args.seed, base, args.kills, args.client_timeout)
        for plan in plans.values():
            clock.say(f"chaos plan {plan.name}: {plan.rate:.0%} of calls faulted; "
                      + (", ".join(f"{t.event} at {t.entity or 'REST call'} #{t.nth}" for t in plan.triggers)
                         or "no triggers"))
        chaos = run_world("chaos", *common, plans=plans, products=base.products, args=args)
        counts = report(base, chaos, clock, args.seed)
    except ChaosError as exc:
        print(f"chaos: the harness failed: {exc}\n(working directory kept: {work})", file=sys.stderr)
        return 2
    finally:
        if counts is not None and not any(counts.values()) and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        elif counts is not None:
            print(f"(logs and databases kept in {work})")
    print(f"chaos: lost {counts['lost']} doubled {counts['doubled']} stuck {counts['stuck']}")
    return 0 if not any(counts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
