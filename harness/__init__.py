"""What tests and benchmarks share to run the real thing: nodes provisioned into a tree, servers on
loopback, proxies that cut, slow or hold a link, frozen and shifted clocks, a full disk, chromium, and
the fuzzing run. Not a test module and not shipped: imported by tests/ and bench/ alike, so neither
imports the other."""
