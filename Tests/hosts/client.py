"""The clients of the many-hosts test, run inside the web host's network namespace (where nginx
listens on loopback); each command prints its results as one JSON object."""

import json
import sys
import threading
import time
import uuid
from collections import Counter

import requests
import urllib3

BASE, CA = sys.argv[1], sys.argv[2]


def post_book(session, service_id, slot, user_name, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return session.post(f"{BASE}/book", json={"service_id": service_id, "slot": slot, "user_name": user_name},
                        headers=headers, verify=CA, timeout=30)


def race(service_id, slot, clients):
    """`clients` threads book one slot at the same moment; the statuses and the winners' ids."""
    barrier = threading.Barrier(clients)
    statuses, winners, lock = Counter(), [], threading.Lock()

    def client(number):
        with requests.Session() as session:
            barrier.wait()
            response = post_book(session, service_id, slot, f"racer {number}")
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 201:
                    winners.append(response.json()["booking_id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": statuses, "winners": winners}


def stream(service_id, slots, threads, pause):
    """Books every slot once, `threads` at a time with `pause` seconds between a thread's bookings,
    each with its own idempotency key, retrying a failed attempt with the same key as a careful
    client would; what each attempt answered."""
    pending, lock = list(slots), threading.Lock()
    booked, answers = {}, Counter()

    def client():
        with requests.Session() as session:
            while True:
                with lock:
                    if not pending:
                        return
                    slot = pending.pop(0)
                key = uuid.uuid4().hex
                for _ in range(40):  # for up to about 10 s
                    try:
                        response = post_book(session, service_id, slot, "steady", key)
                        status = response.status_code
                    except requests.RequestException:
                        status = "connection"
                    with lock:
                        answers[str(status)] += 1
                    if status == 201:
                        with lock:
                            booked[slot] = response.json()["booking_id"]
                        break
                    time.sleep(0.25)
                time.sleep(pause)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"booked": booked, "answers": answers}


if __name__ == "__main__":
    urllib3.disable_warnings()
    command, arguments = sys.argv[3], json.loads(sys.argv[4])
    print(json.dumps({"race": race, "stream": stream}[command](**arguments)))
