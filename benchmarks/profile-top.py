#!/usr/bin/env python3
"""Top-N methods of a dotnet-trace speedscope file (sampled thread time), counting only running threads.

usage: profile-top.py gateway.speedscope.json [N]

A stack whose innermost managed frame is a wait (thread-pool semaphore, epoll, monitor, timer, channel read) is idle
time and is left out; everything else (managed code and the native code it called: send, recv, SQLite) counts as busy.
Prints the busy time's top N methods by exclusive (innermost frame) and inclusive (anywhere on the stack) share, and the
Qlaud-owned top N inclusive.
"""
import json
import sys
from collections import Counter

IDLE_MARKERS = (
    "LowLevelLifoSemaphore.Wait", "LowLevelMonitor.Wait", "WaitForSocketEvents", "Monitor.Wait", "WaitHandle.Wait",
    "WaitOneNoCheck", "Thread.Sleep", "SpinWait", "ManualResetEventSlim.Wait", "PortableThreadPool+GateThread",
    "WaitSubsystem", "Interop+Sys.Poll", "Console", "SemaphoreSlim.Wait", "Interop+Sys.Read(", "TimerQueue.TimerThread",
    "LowLevelLock.Wait", "ThreadPool.Wait", "BlockingCollection", "Task.SpinThenBlockingWait", "Task.InternalWait",
    "FileSystemWatcher", "Thread.Yield", "Thread.Sleep",
)

# Native code entered straight from these frames is a wait too (epoll_wait under the socket engine's loop, the thread-pool
# worker's semaphore).
IDLE_CALLERS = ("SocketAsyncEngine.EventLoop", "WorkerThreadStart")


def short(name):
    # "Assembly!Namespace.Type.Method(args)" -> "Type.Method"; compiler-generated state machines keep their method's name.
    name = name.split("!", 1)[-1]
    head = name.split("(", 1)[0]
    parts = head.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else head


def main():
    path = sys.argv[1]
    top_n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    data = json.load(open(path))
    frames = [f["name"] for f in data["shared"]["frames"]]
    idle_frame = [any(m in f for m in IDLE_MARKERS) for f in frames]
    excl, incl, qlaud = Counter(), Counter(), Counter()
    busy = idle = 0.0
    for profile in data["profiles"]:
        stack = []
        last = profile.get("startValue", 0)
        for ev in profile["events"]:
            at = ev["at"]
            dt = at - last
            if dt > 0 and stack:
                leaf = frames[stack[-1]]
                caller = frames[stack[-2]] if len(stack) > 1 else ""
                if caller == "?!?" and len(stack) > 2:
                    caller = frames[stack[-3]]
                waiting = leaf.startswith("UNMANAGED_CODE_TIME") and any(c in caller for c in IDLE_CALLERS)
                if waiting or any(idle_frame[f] for f in stack[-4:]):
                    idle += dt
                else:
                    busy += dt
                    # The pseudo-frames CPU_TIME / UNMANAGED_CODE_TIME name the state; the method is the frame under it.
                    inner = stack[-2] if len(stack) > 1 and frames[stack[-1]].endswith("_TIME") else stack[-1]
                    if frames[inner] == "?!?" and len(stack) > 2:
                        inner = stack[-3]
                    excl[short(frames[inner])] += dt
                    seen = set()
                    for f in stack:
                        name = short(frames[f])
                        if name not in seen:
                            seen.add(name)
                            incl[name] += dt
                            if frames[f].startswith("Qlaud") or "!Qlaud." in frames[f]:
                                qlaud[name] += dt
            last = at
            if ev["type"] == "O":
                stack.append(ev["frame"])
            elif stack:
                stack.pop()
    print(f"busy {busy:.0f} ms, idle {idle:.0f} ms of sampled thread time\n")
    for title, counter in (("exclusive", excl), ("inclusive", incl), ("inclusive, Qlaud-owned", qlaud)):
        print(f"| {title} | % of busy | ms |\n| --- | --: | --: |")
        for name, ms in counter.most_common(top_n):
            print(f"| `{name}` | {100 * ms / busy:.1f} | {ms:.0f} |")
        print()


if __name__ == "__main__":
    main()
