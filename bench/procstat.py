"""A server's CPU time and memory, summed over its whole process tree, from
/proc (every process and thread, children included). Standard library only."""

import os

CLK_TCK = os.sysconf('SC_CLK_TCK')


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name, or None if gone.

    Index 0 is field 3 (state) of proc(5), so ppid is [1], utime [11],
    stime [12], cutime [13], cstime [14], num_threads [17] and
    starttime [19].
    """
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(b')') + 2:].split()


def process_tree(root_pid):
    """PIDs of root_pid and all its descendants, as {pid: starttime}.

    Zombies are kept: their CPU time moves to the parent only when reaped.
    """
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        fields = _stat_fields(entry)
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    tree = {}
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        fields = _stat_fields(pid)
        if fields is None:
            continue
        tree[pid] = int(fields[19])
        todo.extend(children.get(pid, ()))
    return tree


def cpu_seconds(root_pid):
    """User + system CPU seconds of root_pid's whole process tree.

    The per-process counters already include every thread, dead or alive;
    cutime/cstime add children that exited and were reaped, so a worker
    that dies mid-run is not lost.
    """
    ticks = 0
    for pid in process_tree(root_pid):
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += sum(int(x) for x in fields[11:15])
    return ticks / CLK_TCK


def tree_counts(root_pid):
    """(processes, threads) in root_pid's process tree."""
    procs = threads = 0
    for pid in process_tree(root_pid):
        fields = _stat_fields(pid)
        if fields is not None:
            procs += 1
            threads += int(fields[17])
    return procs, threads


def rss_bytes(root_pid):
    """Resident set size summed over root_pid's process tree (VmRSS)."""
    total = 0
    for pid in process_tree(root_pid):
        try:
            with open(f'/proc/{pid}/status') as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


# ---------------------------------------------------------------- servers
