# The two commands of the README. Both run scripts/setup.sh first, which is idempotent.
.PHONY: demo test setup lint bench
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh $(ARGS)
setup:
	bash scripts/setup.sh
lint:
	npx biome check .
bench:
	bash bench/run.sh $(ARGS)
