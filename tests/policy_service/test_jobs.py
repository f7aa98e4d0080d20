"""Batch-job helpers (seed 004): pre-flight against an estimate, meter actual / partial duration."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterbase.policy.jobs import JobFailed, billable_seconds, preflight, run_job, run_metered


class Ticker:
    """A fake monotonic clock: each job advances it by the seconds it 'runs'."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def run(self, seconds: float, fail: str | None = None):
        self.t += seconds
        if fail:
            raise RuntimeError(fail)
        return "done"


@pytest.fixture
def jobs_svc(svc):
    svc.ensure_customer("cus_free", "free")
    svc.ensure_customer("cus_pro", "pro")
    return svc


def test_preflight_against_the_estimate(jobs_svc):
    svc = jobs_svc
    refused = preflight(svc, "cus_free", "gpu_compute", 3601, access="gpu_access")
    assert not refused and refused.code == "QUOTA_INSUFFICIENT"
    assert (refused.remaining, refused.estimated) == (Decimal(3600), Decimal(3601))
    ok = preflight(svc, "cus_free", "gpu_compute", 3600, access="gpu_access")
    assert ok and ok.remaining == 3600 and ok.estimated == 3600
    assert svc.value("cus_free", "gpu_compute") == 0  # pre-flight consumes nothing
    video = preflight(svc, "cus_free", "video_transcode", "10min", access="video_access")
    assert (video.ok, video.code) == (False, "NO_ACCESS")
    assert preflight(svc, "cus_free", "video_transcode", 600).code == "NO_ACCESS"
    assert preflight(svc, "cus_pro", "video_transcode", "2hr").ok
    assert preflight(svc, "cus_pro", "gpu_compute", "11hr").ok  # soft limit: overage is billed, not refused


def test_completion_meters_the_actual_duration(jobs_svc):
    tick = Ticker()
    with run_metered(jobs_svc, "cus_free", "gpu_compute", monotonic=tick) as run:
        tick.run(12.2)
    assert (run.seconds_run, run.seconds_charged, run.metered) == (13, 13, True)  # rounded up, like Math.ceil
    assert jobs_svc.value("cus_free", "gpu_compute") == 13
    assert run.outcome.event_id


def test_crash_meters_the_partial_duration_and_says_how_much_was_charged(jobs_svc):
    tick = Ticker()
    with pytest.raises(JobFailed) as exc:
        with run_metered(jobs_svc, "cus_pro", "gpu_compute", monotonic=tick):
            tick.run(41.5, fail="CUDA out of memory")
    failed = exc.value
    assert failed.seconds_charged == 42 and failed.seconds_run == 42
    assert isinstance(failed.__cause__, RuntimeError) and "CUDA" in str(failed.cause)
    assert "42 charged" in str(failed)
    assert jobs_svc.value("cus_pro", "gpu_compute") == 42


def test_crash_before_any_time_passed_charges_nothing(jobs_svc):
    tick = Ticker()
    with pytest.raises(JobFailed) as exc:
        with run_metered(jobs_svc, "cus_pro", "gpu_compute", monotonic=tick):
            raise ValueError("bad config")
    assert exc.value.seconds_charged == 0 and exc.value.run.outcome is None
    assert jobs_svc.value("cus_pro", "gpu_compute") == 0


def test_run_job_end_to_end_like_handle_gpu_job(jobs_svc):
    svc, tick = jobs_svc, Ticker()
    too_big = run_job(svc, "cus_free", "gpu_compute", tick.run, 10, estimate=3601, access="gpu_access", monotonic=tick)
    assert (too_big.ok, too_big.code, too_big.remaining, too_big.estimated) == (False, "QUOTA_INSUFFICIENT", 3600, 3601)
    assert tick.t == 1000.0  # the job never started

    done = run_job(svc, "cus_free", "gpu_compute", tick.run, 1799.5, estimate=1800, access="gpu_access", monotonic=tick)
    assert done.ok and done.result == "done" and done.seconds_charged == 1800 and done.remaining == 1800

    crashed = run_job(svc, "cus_free", "gpu_compute", tick.run, 600, fail="node lost", estimate=1800, monotonic=tick)
    assert (crashed.ok, crashed.code, crashed.seconds_charged) == (False, "JOB_ERROR", 600)
    assert crashed.to_dict()["seconds_charged"] == "600" and "node lost" in crashed.to_dict()["cause"]
    assert svc.value("cus_free", "gpu_compute") == 2400

    # ran longer than its estimate past a hard limit: allow() refuses and nothing is charged (reported)
    over = run_job(svc, "cus_free", "gpu_compute", tick.run, 1300, estimate=1000, monotonic=tick)
    assert over.ok and over.seconds_run == 1300 and over.seconds_charged == 0
    assert over.outcome.reason == "limit_exceeded"


def test_idempotent_job_metering_survives_a_retry(jobs_svc):
    tick = Ticker()
    for _ in range(2):
        with run_metered(jobs_svc, "cus_pro", "gpu_compute", idempotency_key="job-42", monotonic=tick) as run:
            tick.run(10)
        if run.seconds_run != 10:
            break
    assert jobs_svc.value("cus_pro", "gpu_compute") == 10 and run.outcome.replayed


def test_billable_seconds_rounds_up_and_ignores_float_noise():
    assert [billable_seconds(x) for x in (0, 0.0000000001, 0.1, 1.0, 1.0000000000001, 59.01)] == [0, 0, 1, 1, 1, 60]
