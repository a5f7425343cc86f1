"""The test server answers Google's own client (google-cloud-firestore, REST transport) as Firestore does."""

import uuid

import pytest
import requests
from google.api_core import exceptions
from google.cloud.firestore_v1.types import (BeginTransactionRequest, CommitRequest, Document, ListDocumentsRequest,
                                             Precondition, RunQueryRequest, StructuredQuery, TransactionOptions, Value, Write)

from server_control import SERVER, control, firestore_client

DATABASE = "projects/fidelity/databases/(default)"
ROOT = f"{DATABASE}/documents"


@pytest.fixture(scope="module")
def client():
    return firestore_client()


@pytest.fixture
def collection():
    return f"fid_{uuid.uuid4().hex[:8]}"


def status_of(error):
    return error.response.json()["error"]["status"]


def create(client, collection, doc_id, **fields):
    values = {k: Value(integer_value=v) if isinstance(v, int) else Value(string_value=v) for k, v in fields.items()}
    name = f"{ROOT}/{collection}/{doc_id}"
    client.commit(CommitRequest(database=DATABASE, writes=[
        Write(update=Document(name=name, fields=values), current_document=Precondition(exists=False))]))
    return client.get_document(request={"name": name})


def test_create_and_get_round_trip_typed_values(client, collection):
    created = create(client, collection, "a", n=7, s="x")
    got = client.get_document(request={"name": f"{ROOT}/{collection}/a"})
    assert got.fields["n"].integer_value == 7 and got.fields["s"].string_value == "x"
    assert got.create_time == created.create_time == got.update_time
    with pytest.raises(exceptions.NotFound):
        client.get_document(request={"name": f"{ROOT}/{collection}/missing"})


def test_commit_preconditions_fail_as_firestore_fails_them(client, collection):
    name = f"{ROOT}/{collection}/doc"
    result = client.commit(CommitRequest(database=DATABASE, writes=[
        Write(update=Document(name=name, fields={"v": Value(integer_value=1)}), current_document=Precondition(exists=False))]))
    first_update = result.write_results[0].update_time
    with pytest.raises(exceptions.Conflict) as exists:
        client.commit(CommitRequest(database=DATABASE, writes=[
            Write(update=Document(name=name), current_document=Precondition(exists=False))]))
    assert status_of(exists.value) == "ALREADY_EXISTS" and name in exists.value.message
    with pytest.raises(exceptions.NotFound):
        client.commit(CommitRequest(database=DATABASE, writes=[
            Write(update=Document(name=f"{name}-missing"), current_document=Precondition(exists=True))]))
    client.commit(CommitRequest(database=DATABASE, writes=[
        Write(update=Document(name=name, fields={"v": Value(integer_value=2)}), current_document=Precondition(update_time=first_update))]))
    with pytest.raises(exceptions.BadRequest) as stale:
        client.commit(CommitRequest(database=DATABASE, writes=[
            Write(update=Document(name=name, fields={"v": Value(integer_value=3)}), current_document=Precondition(update_time=first_update))]))
    assert status_of(stale.value) == "FAILED_PRECONDITION"
    assert client.get_document(request={"name": name}).fields["v"].integer_value == 2


def test_a_failed_commit_applies_none_of_its_writes(client, collection):
    create(client, collection, "taken")
    with pytest.raises(exceptions.Conflict):
        client.commit(CommitRequest(database=DATABASE, writes=[
            Write(update=Document(name=f"{ROOT}/{collection}/new"), current_document=Precondition(exists=False)),
            Write(update=Document(name=f"{ROOT}/{collection}/taken"), current_document=Precondition(exists=False))]))
    with pytest.raises(exceptions.NotFound):
        client.get_document(request={"name": f"{ROOT}/{collection}/new"})


def test_list_documents_pages_in_name_order(client, collection):
    ids = ["e", "b", "d", "a", "c"]
    for doc_id in ids:
        create(client, collection, doc_id)
    before = len(control("GET", "requests"))
    pager = client.list_documents(ListDocumentsRequest(parent=ROOT, collection_id=collection, page_size=2))
    assert [doc.name.rsplit("/", 1)[1] for doc in pager] == sorted(ids)
    pages = [r for r in control("GET", "requests")[before:] if r["method"] == "GET" and r["path"].endswith(collection)]
    assert len(pages) == 3


def test_run_query_filters_orders_and_limits(client, collection):
    for doc_id, kind, size in [("1", "cut", 3), ("2", "wash", 1), ("3", "cut", 1), ("4", "cut", 2)]:
        create(client, collection, doc_id, kind=kind, size=size)
    kind_is_cut = StructuredQuery.Filter(field_filter=StructuredQuery.FieldFilter(
        field=StructuredQuery.FieldReference(field_path="kind"), op=StructuredQuery.FieldFilter.Operator.EQUAL,
        value=Value(string_value="cut")))
    size_at_least_2 = StructuredQuery.Filter(field_filter=StructuredQuery.FieldFilter(
        field=StructuredQuery.FieldReference(field_path="size"), op=StructuredQuery.FieldFilter.Operator.GREATER_THAN_OR_EQUAL,
        value=Value(integer_value=2)))
    query = StructuredQuery(from_=[StructuredQuery.CollectionSelector(collection_id=collection)],
                            where=StructuredQuery.Filter(composite_filter=StructuredQuery.CompositeFilter(
                                op=StructuredQuery.CompositeFilter.Operator.AND, filters=[kind_is_cut, size_at_least_2])),
                            order_by=[StructuredQuery.Order(field=StructuredQuery.FieldReference(field_path="size"),
                                                            direction=StructuredQuery.Direction.DESCENDING)])
    results = [r.document.name.rsplit("/", 1)[1] for r in client.run_query(RunQueryRequest(parent=ROOT, structured_query=query)) if r.document.name]
    assert results == ["1", "4"]
    query.limit = 1
    limited = [r.document.name.rsplit("/", 1)[1] for r in client.run_query(RunQueryRequest(parent=ROOT, structured_query=query)) if r.document.name]
    assert limited == ["1"]


def test_a_projection_returns_only_the_selected_fields(client, collection):
    created = {doc_id: create(client, collection, doc_id, kind="cut", size=size) for doc_id, size in [("b", 2), ("a", 1)]}

    def run(*paths):
        query = StructuredQuery(from_=[StructuredQuery.CollectionSelector(collection_id=collection)],
                                select=StructuredQuery.Projection(fields=[StructuredQuery.FieldReference(field_path=p) for p in paths]))
        return [r.document for r in client.run_query(RunQueryRequest(parent=ROOT, structured_query=query)) if r.document.name]

    keys_only = run("__name__")
    assert [d.name.rsplit("/", 1)[1] for d in keys_only] == ["a", "b"]
    assert [len(d.fields) for d in keys_only] == [0, 0]
    assert [d.update_time for d in keys_only] == [created["a"].update_time, created["b"].update_time]
    assert [d.create_time for d in keys_only] == [created["a"].create_time, created["b"].create_time]
    sizes = run("size")
    assert [dict(d.fields) for d in sizes] == [{"size": Value(integer_value=1)}, {"size": Value(integer_value=2)}]


def test_a_name_range_with_a_keys_only_projection_selects_ids_in_byte_order(client, collection):
    """How the gateway reads one service's slot claims (ids from `x@` to before `xA`) and one
    document's update time (its name equal to one name)."""
    for doc_id in ["x", "x@", "x@1", "x@y@2", "x@\u00e9", "xA", "x\u00e9", "y@1"]:
        create(client, collection, doc_id, n=1)

    def name_is(op, doc_id):
        return StructuredQuery.Filter(field_filter=StructuredQuery.FieldFilter(
            field=StructuredQuery.FieldReference(field_path="__name__"), op=op,
            value=Value(reference_value=f"{ROOT}/{collection}/{doc_id}")))

    def run(lower, upper):
        query = StructuredQuery(from_=[StructuredQuery.CollectionSelector(collection_id=collection)],
                                select=StructuredQuery.Projection(fields=[StructuredQuery.FieldReference(field_path="__name__")]),
                                where=StructuredQuery.Filter(composite_filter=StructuredQuery.CompositeFilter(
                                    op=StructuredQuery.CompositeFilter.Operator.AND,
                                    filters=[name_is(StructuredQuery.FieldFilter.Operator.GREATER_THAN_OR_EQUAL, lower),
                                             name_is(StructuredQuery.FieldFilter.Operator.LESS_THAN, upper)])),
                                order_by=[StructuredQuery.Order(field=StructuredQuery.FieldReference(field_path="__name__"))])
        documents = [r.document for r in client.run_query(RunQueryRequest(parent=ROOT, structured_query=query)) if r.document.name]
        assert all(len(d.fields) == 0 and d.update_time for d in documents)
        return [d.name.rsplit("/", 1)[1] for d in documents]

    assert run("x@", "xA") == ["x@", "x@1", "x@y@2", "x@\u00e9"]
    one = StructuredQuery(from_=[StructuredQuery.CollectionSelector(collection_id=collection)],
                          select=StructuredQuery.Projection(fields=[StructuredQuery.FieldReference(field_path="__name__")]),
                          where=name_is(StructuredQuery.FieldFilter.Operator.EQUAL, "x@1"))
    found = [r.document for r in client.run_query(RunQueryRequest(parent=ROOT, structured_query=one)) if r.document.name]
    assert [d.name.rsplit("/", 1)[1] for d in found] == ["x@1"] and len(found[0].fields) == 0
    assert found[0].update_time == client.get_document(request={"name": f"{ROOT}/{collection}/x@1"}).update_time
    assert run("x\u007f", "y") == ["x\u00e9"], "UTF-8 byte order: \u00e9 after every ASCII character"
    assert run("z", "zz") == []


def test_a_transaction_commits_and_a_conflicting_one_aborts(client, collection):
    create(client, collection, "counter", n=1)
    name = f"{ROOT}/{collection}/counter"
    first = client.begin_transaction(BeginTransactionRequest(database=DATABASE)).transaction
    second = client.begin_transaction(BeginTransactionRequest(database=DATABASE)).transaction
    assert first and second and first != second
    for transaction in (first, second):
        client.get_document(request={"name": name, "transaction": transaction})
    client.commit(CommitRequest(database=DATABASE, transaction=first,
                                writes=[Write(update=Document(name=name, fields={"n": Value(integer_value=2)}))]))
    with pytest.raises(exceptions.Conflict) as aborted:
        client.commit(CommitRequest(database=DATABASE, transaction=second,
                                    writes=[Write(update=Document(name=name, fields={"n": Value(integer_value=3)}))]))
    assert status_of(aborted.value) == "ABORTED"
    assert client.get_document(request={"name": name}).fields["n"].integer_value == 2
    third = client.begin_transaction(BeginTransactionRequest(database=DATABASE,
                                                             options=TransactionOptions(read_write=TransactionOptions.ReadWrite()))).transaction
    client.rollback(request={"database": DATABASE, "transaction": third})


def test_a_transaction_whose_query_gained_a_match_aborts_and_can_be_rolled_back(client, collection):
    """Firestore's transactions are serializable: a query that found nothing is part of what the
    transaction read, so a matching document committed meanwhile aborts it (no phantom). Google's
    client then rolls the transaction back, which must succeed."""
    transaction = client.begin_transaction(BeginTransactionRequest(database=DATABASE)).transaction
    query = StructuredQuery(from_=[StructuredQuery.CollectionSelector(collection_id=collection)], where=StructuredQuery.Filter(
        field_filter=StructuredQuery.FieldFilter(field=StructuredQuery.FieldReference(field_path="slot"),
                                                 op=StructuredQuery.FieldFilter.Operator.EQUAL, value=Value(string_value="10:00"))))
    found = list(client.run_query(RunQueryRequest(parent=ROOT, structured_query=query, transaction=transaction)))
    assert not any(result.document.name for result in found)
    create(client, collection, "other", slot="10:00")
    with pytest.raises(exceptions.Conflict) as aborted:
        client.commit(CommitRequest(database=DATABASE, transaction=transaction, writes=[
            Write(update=Document(name=f"{ROOT}/{collection}/mine", fields={"slot": Value(string_value="10:00")}))]))
    assert status_of(aborted.value) == "ABORTED"
    client.rollback(request={"database": DATABASE, "transaction": transaction})
    with pytest.raises(exceptions.NotFound):
        client.get_document(request={"name": f"{ROOT}/{collection}/mine"})


def test_errors_have_googles_shape():
    response = requests.get(f"{SERVER}/v1/{ROOT}/c/missing", timeout=10)
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message", "status"}
    bad = requests.post(f"{SERVER}/v1/{ROOT}:commit", json={"writes": [{"update": {"name": f"{ROOT}/c/x"}, "bogus": 1}]}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_the_emulator_reset_empties_the_database(client, collection):
    create(client, collection, "x")
    assert requests.delete(f"{SERVER}/emulator/v1/projects/fidelity/databases/(default)/documents", timeout=10).status_code == 200
    with pytest.raises(exceptions.NotFound):
        client.get_document(request={"name": f"{ROOT}/{collection}/x"})


def test_create_document_lists_and_queries_in_a_subcollection(client, collection):
    parent = f"{ROOT}/{collection}/shop"
    create(client, collection, "shop")
    made = client.create_document(request={"parent": parent, "collection_id": "items", "document_id": "i1",
                                           "document": Document(fields={"n": Value(integer_value=1)})})
    assert made.name == f"{parent}/items/i1" and made.fields["n"].integer_value == 1
    with pytest.raises(exceptions.Conflict) as again:
        client.create_document(request={"parent": parent, "collection_id": "items", "document_id": "i1", "document": Document()})
    assert status_of(again.value) == "ALREADY_EXISTS"
    client.create_document(request={"parent": parent, "collection_id": "items", "document_id": "i2",
                                    "document": Document(fields={"n": Value(integer_value=2)})})
    listed = client.list_documents(ListDocumentsRequest(parent=parent, collection_id="items"))
    assert [doc.name.rsplit("/", 1)[1] for doc in listed] == ["i1", "i2"]
    query = StructuredQuery(from_=[StructuredQuery.CollectionSelector(collection_id="items")],
                            where=StructuredQuery.Filter(field_filter=StructuredQuery.FieldFilter(
                                field=StructuredQuery.FieldReference(field_path="n"),
                                op=StructuredQuery.FieldFilter.Operator.EQUAL, value=Value(integer_value=2))))
    found = [r.document.name for r in client.run_query(RunQueryRequest(parent=parent, structured_query=query)) if r.document.name]
    assert found == [f"{parent}/items/i2"]
    top = [doc.name.rsplit("/", 1)[1] for doc in client.list_documents(ListDocumentsRequest(parent=ROOT, collection_id=collection))]
    assert top == ["shop"], "a subcollection's documents are not the parent collection's"
