"""The one off-thread helper: results, errors and progress come back on the GUI thread, in
order; cancel reaches the work; a destroyed parent's callbacks are dropped."""

import threading

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QWidget

from app.gui import tasks


def test_result_and_progress_arrive_on_the_gui_thread_in_order(qapp, qtbot) -> None:
    seen: list[object] = []
    threads: set[bool] = set()
    worker_thread: list[bool] = []

    def work(ctx: tasks.Context) -> str:
        worker_thread.append(QThread.currentThread() is qapp.thread())
        for n in range(500):
            ctx.progress(n)
        return "done"

    def progress(values: list[int]) -> None:
        threads.add(QThread.currentThread() is qapp.thread())
        seen.extend(values)

    result: list[str] = []
    task = tasks.run(work, on_done=result.append, on_progress=progress)
    with qtbot.waitSignal(task.finished, timeout=30_000):
        pass
    assert result == ["done"]
    assert seen == list(range(500))  # every value, in order, none after the end
    assert threads == {True} and worker_thread == [False]


def test_an_error_reaches_on_error_and_not_on_done(qapp, qtbot) -> None:
    errors: list[BaseException] = []
    done: list[object] = []

    def work(_ctx: tasks.Context) -> None:
        raise ValueError("broken input")

    task = tasks.run(work, on_done=done.append, on_error=errors.append)
    with qtbot.waitSignal(task.finished, timeout=30_000):
        pass
    assert done == [] and len(errors) == 1 and str(errors[0]) == "broken input"


def test_cancel_runs_the_works_cancel_callback_and_sets_its_flag(qapp, qtbot) -> None:
    started, release = threading.Event(), threading.Event()
    stopped_by: list[str] = []

    def work(ctx: tasks.Context) -> bool:
        ctx.on_cancel(lambda: stopped_by.append(threading.current_thread().name))
        ctx.on_cancel(release.set)
        started.set()
        release.wait(60)
        return ctx.cancelled

    results: list[bool] = []
    task = tasks.run(work, on_done=results.append)
    assert started.wait(60)
    with qtbot.waitSignal(task.finished, timeout=30_000):
        task.cancel()
        task.cancel()  # twice is harmless
    assert results == [True] and len(stopped_by) == 1
    late: list[int] = []
    tasks.Context(task).on_cancel(lambda: late.append(1))  # registered after: runs at once
    assert late == [1]


def test_callbacks_of_a_destroyed_parent_are_dropped(qapp, qtbot) -> None:
    parent = QWidget()
    release = threading.Event()
    ran: list[object] = []
    cancelled: list[bool] = []

    def work(ctx: tasks.Context) -> str:
        release.wait(60)
        cancelled.append(ctx.cancelled)
        ctx.progress("late")
        return "late"

    task = tasks.run(work, on_done=ran.append, on_progress=ran.append, parent=parent)
    with qtbot.waitSignal(parent.destroyed, timeout=10_000):
        parent.deleteLater()
    assert task.cancelled
    with qtbot.waitSignal(task.finished, timeout=30_000):
        release.set()
    assert ran == [] and cancelled == [True]


def test_many_tasks_at_once_all_finish(qapp, qtbot) -> None:
    results: list[int] = []
    running = [tasks.run(lambda _ctx, n=n: n * n, on_done=results.append) for n in range(3)]
    for task in running:
        if not task.done:
            with qtbot.waitSignal(task.finished, timeout=30_000):
                pass
    assert sorted(results) == [0, 1, 4]


def test_a_task_can_wait_for_the_others_to_finish(qtbot) -> None:
    """What the app's close does before it closes the store."""
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow(_ctx: tasks.Context) -> None:
        started.set()
        release.wait(60)
        order.append("other work")

    def closer(_ctx: tasks.Context) -> bool:
        done = tasks.wait_for_others(timeout=60)
        order.append("close")
        return done

    first = tasks.run(slow)
    qtbot.waitUntil(started.is_set, timeout=30_000)
    results: list[bool] = []
    second = tasks.run(closer, on_done=results.append)
    release.set()
    with qtbot.waitSignal(second.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: first not in tasks._running, timeout=30_000)
    assert results == [True] and order == ["other work", "close"]


def test_serial_work_runs_in_the_order_given(qapp, qtbot) -> None:
    gate, order = threading.Event(), []
    queue = tasks.Serial()

    def first(_ctx: tasks.Context) -> None:
        gate.wait(30)  # held until both are queued: the second could overtake it in the pool
        order.append(1)

    one = queue.run(first)
    two = queue.run(lambda _ctx: order.append(2))
    gate.set()
    with qtbot.waitSignals([one.finished, two.finished], timeout=30_000):
        pass
    assert order == [1, 2]

    failing = queue.run(lambda _ctx: 1 / 0, on_error=lambda _e: order.append("error"))
    after = queue.run(lambda _ctx: order.append(3))  # a failure does not stall the queue
    with qtbot.waitSignals([failing.finished, after.finished], timeout=30_000):
        pass
    assert sorted(map(str, order[2:])) == ["3", "error"]
