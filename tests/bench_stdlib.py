# bench_stdlib.py: a small command-line tool that imports a typical set of standard library modules, for tests/bench.sh and tests/demo.sh.
#
# Most of its run time is import time, which is what pywarm removes: the
# work itself (parse arguments, build a message, encode JSON) takes well
# under a millisecond.

import argparse
import asyncio
import email.message
import http.client
import json
import subprocess


def main():
    parser = argparse.ArgumentParser(description="Describe a request as JSON.")
    parser.add_argument("--host", default="example.org")
    parser.add_argument("--path", default="/")
    args = parser.parse_args()

    msg = email.message.EmailMessage()
    msg["Subject"] = "GET " + args.path
    msg.set_content("hello")

    report = {
        "host": args.host,
        "path": args.path,
        "port": http.client.HTTP_PORT,
        "subject": msg["Subject"],
        "event_loop": asyncio.get_event_loop_policy().__class__.__name__,
        "devnull": subprocess.DEVNULL,
    }
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
