from labsnn.report import _unnumbered


def test_report_headings_keep_the_labs_numbers_only():
    text = "# 4.1 Hyperparameter tuning\n\nText with a # inside.\n\n### The formula term by term  \nmore"
    assert _unnumbered(text) == (
        "# 4.1 Hyperparameter tuning {.unnumbered}\n\nText with a # inside.\n\n"
        "### The formula term by term {.unnumbered}\nmore"
    )
