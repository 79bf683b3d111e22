"""The idle-pull benchmark at a tiny size, so that it cannot rot: a real hub answers every kept pull once."""

from bench import idle


def test_the_idle_pull_benchmark_has_every_pull_answered_both_ways_and_reads_the_hubs_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(idle, "APPLICATIONS", 2)
    monkeypatch.setattr(idle, "IDLE_PULLS", 30)
    monkeypatch.setattr(idle, "REPLAYED", 20)
    kept, new = idle.run(tmp_path)  # a pull refused (a replayed nonce, say) fails inside
    for cpu_ms, wall_ms, answer_bytes in (kept, new):
        assert 0 <= cpu_ms < 50 and wall_ms > 0  # 20 pulls' CPU, in clock ticks of 10 ms: it may read 0
        assert answer_bytes < 400  # an empty batch and the fingerprint, sealed: no events came down
