import sys


def work():
    return sum(range(1000))


work()
sys.stderr.write("fixture: the database is on fire\n")
sys.exit(3)
