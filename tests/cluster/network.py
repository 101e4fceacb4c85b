"""Hosts as network namespaces on one bridge, for tests of what crosses a network.

The bridge lives in a namespace of its own, so nothing is added to the machine's own network
namespace: every host, link and address is made inside namespaces this class creates, on a
private /24 nobody else uses, and ``remove`` deletes them all (deleting a namespace deletes its
links). A host "vanishes" when its link on the bridge goes down: its packets are dropped, no RST
is sent, exactly as when a machine loses power or its network.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field


def ip(*args: str, namespace: str | None = None) -> None:
    command = ["ip", *(("-n", namespace) if namespace else ()), *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")


@dataclass
class Network:
    """Namespaces ``<prefix>-<host>`` with addresses ``<subnet>.<n>`` on the bridge ``<prefix>-br``."""

    subnet: str = "10.213.77"
    prefix: str = field(default_factory=lambda: f"sc{os.getpid() % 100000}")
    hosts: dict[str, str] = field(default_factory=dict)  # name -> address
    _namespaces: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._add_namespace(self.bridge_namespace)
        ip("link", "add", "br0", "type", "bridge", namespace=self.bridge_namespace)
        ip("link", "set", "br0", "up", namespace=self.bridge_namespace)

    @property
    def bridge_namespace(self) -> str:
        return f"{self.prefix}-br"

    def namespace(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def add_host(self, host: str) -> str:
        """A new host on the bridge; returns its address."""
        address = f"{self.subnet}.{10 + len(self.hosts)}"
        namespace, port = self.namespace(host), self._port(host)
        self._add_namespace(namespace)
        ip("link", "add", "eth0", "netns", namespace, "type", "veth", "peer", "name", port,
           namespace=self.bridge_namespace)
        ip("link", "set", port, "master", "br0", "up", namespace=self.bridge_namespace)
        ip("addr", "add", f"{address}/24", "dev", "eth0", namespace=namespace)
        ip("link", "set", "eth0", "up", namespace=namespace)
        self.hosts[host] = address
        return address

    def run(self, host: str, command: list[str]) -> list[str]:
        """``command`` as run inside ``host``'s namespace."""
        return ["ip", "netns", "exec", self.namespace(host), *command]

    def vanish(self, host: str) -> None:
        """Cut ``host`` off without a word: its packets are dropped from now on."""
        ip("link", "set", self._port(host), "down", namespace=self.bridge_namespace)

    def reappear(self, host: str) -> None:
        ip("link", "set", self._port(host), "up", namespace=self.bridge_namespace)

    def remove(self) -> None:
        """Delete every namespace made (and with them every link and address)."""
        for namespace in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True)
        self._namespaces.clear()

    def _add_namespace(self, namespace: str) -> None:
        ip("netns", "add", namespace)
        self._namespaces.append(namespace)
        ip("link", "set", "lo", "up", namespace=namespace)

    def _port(self, host: str) -> str:
        return f"p-{host}"[:15]
