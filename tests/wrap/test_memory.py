import platform

import pytest

from shipper.wrap.memory import return_large_buffers_to_the_os


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_mmap_threshold_is_fixed_on_glibc():
    assert return_large_buffers_to_the_os() is True
