from hipec.cli.main import run

run()
