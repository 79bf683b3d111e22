"""The release's pure parts: the glibc a set of wheels needs, and which platforms pip is asked for."""

from installers.wheelhouse import TARGETS, glibc_needed


def test_a_release_needs_the_glibc_of_its_most_demanding_wheel_by_that_wheels_oldest_tag():
    wheels = [
        "flask-3.1.3-py3-none-any.whl",
        "cffi-2.1.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "charset_normalizer-3.5.3-cp311-cp311-manylinux1_x86_64.manylinux_2_28_x86_64.manylinux_2_5_x86_64.whl",
        "pillow-13.0.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    ]
    assert glibc_needed(wheels) == "2.27"
    assert glibc_needed(wheels[:2]) == "2.17"
    assert glibc_needed(wheels[:1]) == "2.5"  # pure Python: any manylinux system


def test_pip_is_asked_for_every_manylinux_from_2_17_to_2_28_of_the_targets_machine():
    platforms = TARGETS["linux-aarch64"].pip_platforms()
    assert platforms[0] == "manylinux_2_28_aarch64" and "manylinux_2_17_aarch64" in platforms
    assert "manylinux2014_aarch64" in platforms and not [p for p in platforms if "x86_64" in p]
