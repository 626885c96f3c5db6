"""`python -m rebal_broker_sim --host 127.0.0.1 --port 0 --db sim.sqlite --port-file port.txt`."""

from rebal_broker_sim.entrypoints.cli import main

if __name__ == "__main__":
    main()
