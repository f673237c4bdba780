"""Ticket PDFs: how long the first ticket takes, a warm one, 500 in bulk against 500 one by one, and downloads.

Runs against a throwaway SQLite database and media directory (rendering does not touch the database
much; PostgreSQL would not change the figures). Creates an organization with a published event, a few
sessions and N confirmed registrations, then measures in one run:

- first ticket in a fresh process: a new Python process imports Django and weasyprint, loads the fonts,
  renders one ticket (wall-clock time of the whole process, start to exit);
- warm single ticket: the median of --repeat renders of one ticket in this (warm) process;
- N tickets in bulk: laid out together (one weasyprint document per 100 tickets), split into one PDF each,
  shared out between one process per core (this one and forked copies); then the same in this process only;
- the same N tickets each rendered as its own weasyprint document (the naive way), in this process only;
- stored ticket download: --downloads GETs of the attendee's signed download link through the Django test
  client (middleware, lookups, digest check and reading the stored file), p50 / p95.

    .venv/bin/python bench/tickets.py            # N=500
    .venv/bin/python bench/tickets.py -n 200 --repeat 10 --downloads 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--tickets", type=int, default=500, help="tickets rendered in bulk and one by one (default 500)")
    p.add_argument("--repeat", type=int, default=20, help="warm single renders to take the median of (default 20)")
    p.add_argument("--downloads", type=int, default=500, help="stored-ticket downloads to time (default 500)")
    p.add_argument("--first-ticket", metavar="REG_ID", type=int, help=argparse.SUPPRESS)  # the fresh-process child
    return p.parse_args()


def setup_django(workdir: str) -> None:
    os.environ.setdefault("DEBUG", "1")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ["MEDIA_ROOT"] = f"{workdir}/media"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    import django

    django.setup()


def first_ticket(reg_id: int) -> None:
    """The child: render one ticket from a cold start (the parent times the whole process)."""
    from events import tickets

    (pdf,) = tickets.render_pdfs(tickets.tickets_data([reg_id]))
    if not pdf.startswith(b"%PDF"):
        raise SystemExit("the first ticket is not a PDF")


def seed(n: int):
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Organization
    from events import services
    from events.models import Registration

    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Bench Conferences", slug="bench")
    start = timezone.now().replace(microsecond=0) + timedelta(days=30)
    event = services.event_create(
        org=org,
        actor=None,
        title="Bench Summit",
        starts_at=start,
        ends_at=start + timedelta(hours=9),
        timezone="Europe/Berlin",
        venue_name="Congress Center",
        venue_address="Alexanderstraße 11, 10178 Berlin",
    )
    tt = services.ticket_type_create(org=org, actor=None, event_id=event.pk, name="General", price=0, currency="EUR")
    services.event_publish(org=org, actor=None, event_id=event.pk)
    sessions = [
        services.session_create(
            org=org,
            actor=None,
            event_id=event.pk,
            title=f"Talk {i}: a title of a realistic length",
            starts_at=start + timedelta(hours=i + 1),
            ends_at=start + timedelta(hours=i + 2),
            room=f"Room {i % 3 + 1}",
        )
        for i in range(3)
    ]
    for i in range(n):
        services.registration_create(
            org=org,
            actor=None,
            ticket_type_id=tt.pk,
            name=f"Attendee Number {i}",
            email=f"a{i}@example.com",
            session_ids=[s.pk for s in sessions[: i % 4]],
        )
    return event, list(Registration.objects.filter(event=event).order_by("pk").values_list("pk", flat=True))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    args = parse_args()
    if args.first_ticket:
        setup_django(os.environ["BENCH_WORKDIR"])
        first_ticket(args.first_ticket)
        return 0

    with tempfile.TemporaryDirectory(prefix="convene-tickets-") as workdir:
        setup_django(workdir)
        from django.test import Client

        from events import tickets
        from events.models import Registration

        t = time.perf_counter()
        event, ids = seed(args.tickets)
        seeded = time.perf_counter() - t
        n = len(ids)
        print("Convene ticket benchmark (weasyprint PDF tickets)", flush=True)
        print(f"  data               {n} confirmed registrations, 0-3 sessions each (seeded in {seeded:.1f} s)", flush=True)

        # 1. first ticket in a fresh process
        tickets.event_checkin_key(event)  # the key exists before the child starts, as in production
        env = {**os.environ, "BENCH_WORKDIR": workdir}
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--first-ticket", str(ids[0])], env=env, check=True)
        cold = time.perf_counter() - t
        print(
            f"  first ticket       {cold * 1000:.0f} ms in a fresh process (interpreter, Django, weasyprint, fonts)", flush=True
        )

        # 2. warm single ticket
        tickets.render_pdfs(tickets.tickets_data([ids[0]]))  # this process's own warm-up
        singles = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            tickets.render_pdfs(tickets.tickets_data([ids[1]]))
            singles.append(time.perf_counter() - t)
        print(f"  warm single        {statistics.median(singles) * 1000:.1f} ms median of {len(singles)}", flush=True)

        # 3. bulk: data, one layout per 100 tickets, split
        workers = tickets.bulk_workers(n)
        t = time.perf_counter()
        datas = tickets.tickets_data(ids)
        pdfs = tickets.render_pdfs(datas)
        bulk = time.perf_counter() - t
        if len(pdfs) != len(ids):
            raise SystemExit(f"bulk gave {len(pdfs)} PDFs for {len(ids)} tickets")
        print(
            f"  bulk               {n / bulk:.1f} tickets/s ({n} in {bulk:.2f} s, {workers} process(es) of {os.cpu_count()} "
            f"cores, one layout per {tickets.BATCH}, split)",
            flush=True,
        )
        t = time.perf_counter()
        tickets.render_pdfs(datas, workers=1)
        serial = time.perf_counter() - t
        print(f"  bulk, 1 process    {n / serial:.1f} tickets/s ({n} in {serial:.2f} s, the same without forking)", flush=True)

        # 4. the same tickets, one weasyprint document each, in this one process
        t = time.perf_counter()
        datas = tickets.tickets_data(ids)
        for data in datas:
            tickets.render_pdfs([data], workers=1)
        naive = time.perf_counter() - t
        print(f"  one by one         {n / naive:.1f} tickets/s ({n} in {naive:.2f} s, a document per ticket)", flush=True)
        print(f"  bulk speed-up      {naive / bulk:.1f}x", flush=True)

        # 5. stored ticket downloads (render and store first, as the confirmation task does)
        tickets.tickets_refresh(ids)
        regs = list(Registration.objects.filter(pk__in=ids).select_related("event__organization"))
        urls = [tickets.ticket_link_url(reg) for reg in regs]
        client = Client(HTTP_HOST="127.0.0.1")
        client.get(urls[0])
        latencies = []
        for i in range(args.downloads):
            t = time.perf_counter()
            response = client.get(urls[i % len(urls)])
            latencies.append(time.perf_counter() - t)
            if response.status_code != 200 or response["Content-Type"] != "application/pdf":
                raise SystemExit(f"download answered {response.status_code}")
        size = sum(len(p) for p in pdfs) / len(pdfs)

    print(
        f"  stored download    p50 {percentile(latencies, 50) * 1000:.1f} ms  p95 {percentile(latencies, 95) * 1000:.1f} ms"
        f"  max {max(latencies) * 1000:.1f} ms over {len(latencies)} GETs"
    )
    print(f"  ticket size        {size / 1024:.1f} KiB on average")
    ok = n / bulk >= 50 and percentile(latencies, 95) < 0.05
    print(f"GOALS (bulk >= 50 tickets/s, download p95 < 50 ms): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
