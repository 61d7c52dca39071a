from labsnn.report import _unnumbered


def test_report_headings_keep_the_labs_numbers_only():
    text = "# 4.1 Hyperparameter tuning\n\nText with a # inside.\n\n### The formula term by term  \nmore"
    assert _unnumbered(text) == (
        "# 4.1 Hyperparameter tuning {.unnumbered}\n\nText with a # inside.\n\n"
        "### The formula term by term {.unnumbered}\nmore"
    )


def test_peak_memory_counts_this_process_and_finished_children():
    import subprocess
    import sys

    from labsnn.report import peak_memory_gb

    before, _ = peak_memory_gb()
    block = b"x" * (400 * 2**20)  # every page written
    own, _ = peak_memory_gb()
    assert own >= max(before, 0.39)
    del block
    subprocess.run([sys.executable, "-c", "b = b'x' * (300 * 2**20)"], check=True)
    assert peak_memory_gb()[1] >= 0.29
