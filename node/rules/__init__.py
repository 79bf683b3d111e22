"""The domain's pure rules: identifiers, holidays and working-day deadlines, the application's state
machine, what a scan is, and what one application adds to the statistics. No I/O, no database: values in,
values or problems (in Chinese) out, so property tests can drive them."""
