#!/usr/bin/env python3
"""Example SpeedData source in Python: sends the `example` or `temperature` channel
(config/agents/example.avsc, temperature.avsc: the records the earlier version's senders sent).

    python3 examples/sender/sender.py                          # example channel, 10 Hz, port 26000
    python3 examples/sender/sender.py --schema temperature     # temperature channel, port 26001
    python3 examples/sender/sender.py --rate 100 --count 500 --per-datagram 5

Needs only the Python standard library (lib/python/speeddata_sender.py encodes Avro itself).
"""

import argparse
import math
import os
import random
import sys
import time

# Run from anywhere: the repo root holds the `lib` package.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from lib.python.speeddata_sender import Sender  # noqa: E402

WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot']


def example_record(counter, rng):
    """One sample of the example channel (config/agents/example.avsc); signals within [-1, +1]."""
    return {
        'time': time.time_ns(),
        'message': rng.choice(WORDS),
        'counter': counter,
        'sine_wave': math.sin(2.0 * math.pi * counter / 20.0),
        'ramp': (counter % 40) / 40.0 * 2.0 - 1.0,
        'square_wave': 1.0 if counter % 20 < 10 else -1.0,
        'noise': rng.random() - 0.5,
    }


def temperature_record(counter, rng):
    """One sample of the temperature channel (config/agents/temperature.avsc): a room around
    22 degC drifting +-2 degC, pressure and humidity following it, with a little noise."""
    temperature_c = 22.0 + 2.0 * math.sin(2.0 * math.pi * counter / 200.0) + rng.gauss(0.0, 0.1)
    humidity = 45.0 - 2.0 * (temperature_c - 22.0) + 10.0 * math.cos(2.0 * math.pi * counter / 250.0)
    return {
        'time': time.time_ns(),
        'device_id': 'TEMP-SENSOR-001',
        'temperature_c': temperature_c,
        'temperature_f': temperature_c * 9.0 / 5.0 + 32.0,
        'pressure_pa': 101325.0 - 100.0 * temperature_c + 500.0 * math.sin(2.0 * math.pi * counter / 300.0),
        'humidity_pct': max(0.0, min(100.0, humidity)),
        'status': 'ok' if 10.0 <= temperature_c <= 35.0 else 'warning',
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--schema', choices=['example', 'temperature'], default='example')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, help='default: 26000 (example), 26001 (temperature)')
    parser.add_argument('--rate', type=float, default=10.0, help='samples per second')
    parser.add_argument('--count', type=int, default=0, help='samples to send; 0 = until Ctrl-C')
    parser.add_argument('--per-datagram', type=int, default=1, help='samples packed per datagram')
    args = parser.parse_args()
    if args.rate <= 0 or args.per_datagram < 1:
        parser.error('--rate must be > 0 and --per-datagram >= 1')

    port = args.port or (26001 if args.schema == 'temperature' else 26000)
    make = temperature_record if args.schema == 'temperature' else example_record
    rng = random.Random()
    schema_path = os.path.join(REPO, 'config', 'agents', f'{args.schema}.avsc')

    with Sender(schema_path, host=args.host, port=port) as out:
        pending = []
        start = time.monotonic()
        counter = 0
        try:
            while args.count == 0 or counter < args.count:
                pending.append(make(counter, rng))
                counter += 1
                if len(pending) == args.per_datagram:
                    out.send_many(pending, per_datagram=args.per_datagram)
                    pending = []
                # Sleep to absolute deadlines, so the rate does not drift with the loop's cost.
                delay = start + counter / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        except KeyboardInterrupt:
            pass
        if pending:
            out.send_many(pending, per_datagram=args.per_datagram)
        print(f'sent {out.datagrams} datagrams, {out.records} records, {out.errors} errors'
              + (f' (last: {out.last_error})' if out.last_error else ''))


if __name__ == '__main__':
    main()
