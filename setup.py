"""logwrap's hot path in C, declared here because setuptools still calls ext-modules in
pyproject.toml experimental. Optional: without a compiler the build goes on, and the same records
are made in Python, only slower (``shipper.wrap.records.ACCELERATED`` tells which)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("shipper.wrap._fastpack", ["shipper/wrap/_fastpack.c"], optional=True,
                             extra_compile_args=["-O2"])])
