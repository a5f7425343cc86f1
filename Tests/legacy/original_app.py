"""A stand-in for the original Python/Flask booking application, written from its description,
for tests that run it beside this service on one Firestore database (the test server).

What it does, as the original did: `GET /services` lists the service documents; `POST /book`
checks that the service offers the slot (compared as strings, as the original compared them),
then that no booking of the bookings collection has `service_id == X and slot == Y` (a query),
then stores `bookings/{id}` {booking_id, service_id, slot, user_name, timestamp}. It writes no slot
claims. With --transactional the query and the write run in one Firestore transaction (the
client's `@firestore.transactional`, which retries an aborted one); without it, one after the
other, as a plain client does.

    python original_app.py --port 18090 --project booking-legacy [--transactional]

Google's client speaks gRPC by default; the test server speaks REST, so the client's GAPIC
layer is given the REST transport (the same client code runs against Firestore either way).
"""

import argparse
import json
import os
import uuid
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.services.firestore import FirestoreClient


def make_client(project, endpoint):
    client = firestore.Client(project=project, credentials=AnonymousCredentials())
    client._firestore_api_internal = FirestoreClient(transport="rest", credentials=AnonymousCredentials(),
                                                     client_options=ClientOptions(api_endpoint=endpoint))
    return client


def make_app(db, transactional):
    app = Flask(__name__)

    @app.get("/services")
    def services():
        # Fields of any type: bytes, references and geo points as their text.
        documents = [doc.to_dict() for doc in db.collection("services").stream()]
        return app.response_class(json.dumps(documents, default=str), mimetype="application/json")

    @app.post("/book")
    def book():
        body = request.get_json(force=True)
        service_id, slot, user_name = body.get("service_id"), body.get("slot"), body.get("user_name")
        if not (service_id and slot and user_name):
            return jsonify(error="service_id, slot and user_name are required"), 400
        service = db.collection("services").document(service_id).get()
        if not service.exists:
            return jsonify(error="service not found"), 404
        if slot not in (service.to_dict().get("available_slots") or []):
            return jsonify(error="slot not available"), 400
        taken_query = db.collection("bookings").where(filter=FieldFilter("service_id", "==", service_id)) \
                                               .where(filter=FieldFilter("slot", "==", slot))
        booking_id = str(uuid.uuid4())
        booking = {"booking_id": booking_id, "service_id": service_id, "slot": slot, "user_name": user_name,
                   "timestamp": datetime.now(timezone.utc)}
        reference = db.collection("bookings").document(booking_id)

        if transactional:
            @firestore.transactional
            def book_in(transaction):
                if list(transaction.get(taken_query)):
                    return False
                transaction.set(reference, booking)
                return True
            try:
                booked = book_in(db.transaction())
            except (exceptions.Aborted, exceptions.Conflict):
                return jsonify(error="too much contention"), 503
        else:
            booked = not list(taken_query.stream())
            if booked:
                reference.set(booking)
        if not booked:
            return jsonify(error="slot already booked"), 409
        return jsonify(booking_id=booking_id, service_id=service_id, slot=slot, user_name=user_name), 201

    return app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--endpoint", default=os.environ.get("FIRESTORE_TEST_URL", "http://127.0.0.1:18085"))
    parser.add_argument("--transactional", action="store_true")
    arguments = parser.parse_args()
    app = make_app(make_client(arguments.project, arguments.endpoint), arguments.transactional)
    app.run(host="127.0.0.1", port=arguments.port, threaded=True)


if __name__ == "__main__":
    main()
