from __future__ import annotations

import pytest

import portal.labs.hal as hal


@pytest.mark.parametrize(
    ("model", "bf16", "bandwidth"),
    [
        ("NVIDIA H100 80GB HBM3", 989.4, 3350),
        ("NVIDIA H100 PCIe", 756.5, 2000),
        ("NVIDIA H200", 989.4, 4800),
        ("NVIDIA A100-SXM4-40GB", 312, 1555),
        ("NVIDIA A100-SXM4-80GB", 312, 2039),
        ("NVIDIA L40S", 362.05, 864),
        ("NVIDIA GeForce RTX 4090", 165.2, 1008),
        ("AMD Instinct MI300X", 1307.4, 5300),
    ],
)
def test_known_chips_get_their_datasheet_figures(model, bf16, bandwidth):
    peaks = hal.lookup_peaks(model)
    assert peaks.source == "table"
    assert peaks.bf16_tflops == bf16
    assert peaks.memory_bandwidth_gbps == bandwidth


def test_an_unknown_chip_has_no_figures_rather_than_made_up_ones():
    peaks = hal.lookup_peaks("Mystery Accelerator 3000")
    assert peaks.source == "unknown" and peaks.bf16_tflops is None


@pytest.mark.django_db
def test_a_recorded_measurement_overrides_the_table_figure_by_figure(fresh_discovery):
    sim = hal.get_device("sim:0")
    assert sim.peaks().source == "config"
    hal.record_measured_peaks("sim:0", bf16_tflops=180.5, note="gemm 8192^3")
    peaks = sim.peaks()
    assert peaks.source == "measured"
    assert peaks.bf16_tflops == 180.5
    assert peaks.fp32_tflops == sim.table_peaks().fp32_tflops  # not measured: kept
    assert peaks.note == "gemm 8192^3"


@pytest.mark.django_db
def test_recording_peaks_refuses_nonsense(fresh_discovery):
    with pytest.raises(ValueError, match="at least one"):
        hal.record_measured_peaks("sim:0")
    with pytest.raises(ValueError, match="positive"):
        hal.record_measured_peaks("sim:0", fp32_tflops=-1)
    with pytest.raises(hal.NoSuchDevice):
        hal.record_measured_peaks("nvidia:7", fp32_tflops=1.0)
    row = hal.record_measured_peaks("nvidia:7", fp32_tflops=1.0, model="NVIDIA H100 PCIe")
    assert row.model == "NVIDIA H100 PCIe"
