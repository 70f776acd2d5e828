from auraon_bench.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="auraon-bench")
