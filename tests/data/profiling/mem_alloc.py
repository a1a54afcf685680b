"""Memory fixture: ``allocate_big`` holds ~200 MiB at once; ``allocate_small`` 20 MiB later."""

MIB = 1 << 20


def allocate_big():
    buffers = []
    for _ in range(20):
        buffers.append(bytearray(10 * MIB))
    return sum(len(b) for b in buffers)


def allocate_small():
    return len(bytearray(20 * MIB))


if __name__ == "__main__":
    allocate_big()
    allocate_small()
