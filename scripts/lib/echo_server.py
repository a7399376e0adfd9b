#!/usr/bin/env python3
"""The lab's echo server: every TCP connection gets one line, the server's name and the
peer address it saw ("rl-node1-pod1 192.168.1.11"), then the server closes it. A client so
learns which endpoint a Service sent it to and what source address arrived there, after any
DNAT and masquerade on the way. Dual-stack: it listens on every IPv4 and IPv6 address of
its network namespace.

  echo_server.py --name NAME [--port 80] [--ready-file PATH]

--ready-file is created once the server listens, so a caller waits for it instead of sleeping.
"""

import argparse
import asyncio
import ipaddress
import os


def peer_text(address):
    """The peer as people write it: an IPv4 peer of an IPv6 socket without its ::ffff:."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


async def serve(args):
    async def answer(reader, writer):
        try:
            peer = peer_text(writer.get_extra_info("peername")[0])
            writer.write(f"{args.name} {peer}\n".encode())
            await writer.drain()
        except OSError:
            pass  # the client went away first: nothing to answer
        finally:
            writer.close()

    # host None: one socket per family (the IPv6 one IPv6-only), on every address.
    server = await asyncio.start_server(answer, host=None, port=args.port, reuse_address=True)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(args.ready_file + ".tmp", args.ready_file)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--ready-file")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
