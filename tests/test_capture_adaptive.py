"""Adaptive quality: frame rate goes first, then resolution; it comes back when there is room."""

from __future__ import annotations

from capture_client.adaptive import Quality, QualityController, quality_ladder


def test_the_ladder_gives_up_frame_rate_before_resolution():
    assert quality_ladder(10, 1280, 720) == [
        Quality(10, 1280, 720),
        Quality(5, 1280, 720),
        Quality(2, 1280, 720),
        Quality(1, 1280, 720),
        Quality(1, 960, 540),
        Quality(1, 640, 360),
    ]


def test_over_budget_steps_down_and_well_under_budget_steps_back_up():
    controller = QualityController(quality_ladder(5, 1280, 720), cpu_budget=0.10, kbps_budget=300)
    assert controller.observe(cpu_share=0.30, kbps=100) == Quality(2, 1280, 720)  # CPU over budget
    assert controller.observe(cpu_share=0.05, kbps=400) == Quality(1, 1280, 720)  # upload over budget
    assert controller.observe(cpu_share=0.20, kbps=100) == Quality(1, 960, 540)
    assert controller.observe(cpu_share=0.20, kbps=100) == Quality(1, 640, 360)
    assert controller.observe(cpu_share=0.20, kbps=100) == Quality(1, 640, 360)  # the floor

    # Within budget but without room for the better level's cost: stay.
    assert controller.observe(cpu_share=0.07, kbps=100) == Quality(1, 640, 360)
    # Plenty of room: climb back one step per measurement.
    assert controller.observe(cpu_share=0.01, kbps=20) == Quality(1, 960, 540)
    assert controller.observe(cpu_share=0.01, kbps=20) == Quality(1, 1280, 720)
    assert controller.observe(cpu_share=0.01, kbps=20) == Quality(2, 1280, 720)
    assert controller.observe(cpu_share=0.01, kbps=20) == Quality(5, 1280, 720)
    assert controller.observe(cpu_share=0.01, kbps=20) == Quality(5, 1280, 720)  # the top
