"""Drives a running `citybrain serve` with the ngsildclient library, unchanged and with its defaults.

Usage: check.py PORT

Follows the library's README (the OffStreetParking walk-through) and its API modules: entities
built with the Entity model keep the library's default @context, the unversioned ETSI core URL,
which the hub must resolve from its embedded copies (it may run offline). Every call's result
is checked; the first mismatch ends the script with exit status 1 and a line starting with
"FAILED". The last line on success is "ngsildclient: all checks passed".

Run by crates/citybrain/tests/it/ngsildclient.rs, which installs ngsildclient==0.5.2 into a venv.
"""

import asyncio
import json
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

from ngsildclient import AsyncClient, Client, Entity, MultAttrValue, SubscriptionBuilder
from ngsildclient.api.constants import AggrMethod
from ngsildclient.api.exceptions import NgsiAlreadyExistsError, NgsiResourceNotFoundError

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
PARKING = "urn:ngsi-ld:OffStreetParking:Downtown1"
SPOTS = 10
OCCUPIED = 6


def expect(actual, expected, what):
    if actual != expected:
        print(f"FAILED {what}: expected {expected!r}, got {actual!r}", flush=True)
        sys.exit(1)


def passed(step):
    print(f"ok: {step}", flush=True)


def without_context(entity):
    d = json.loads(entity.to_json())
    d.pop("@context", None)
    return d


def parking_entity():
    """The README's first entity, without its remote parking @context."""
    e = Entity("OffStreetParking", "Downtown1")
    expect(e.ctx, [CORE_CONTEXT], "the library's default @context")
    e.prop("name", "Downtown One")
    observed = datetime(2022, 10, 25, 8, tzinfo=timezone.utc)
    e.prop("availableSpotNumber", 121, observedat=observed, unitcode="C62").anchor()
    e.prop("reliability", 0.7).rel("providedBy", "Camera:C1").unanchor()
    e.prop("totalSpotNumber", 200).loc(41.2, -8.5)
    e.tprop("dateObserved", datetime(2022, 10, 25, 7, 30, tzinfo=timezone.utc))
    return e


def check_create_get(client, e):
    expect(client.create(e), True, "create")
    try:
        client.create(e)
        expect("no error", "NgsiAlreadyExistsError", "a second create of the same id")
    except NgsiAlreadyExistsError:
        pass
    expect(client.exists(e), True, "exists after create")
    expect(client.exists("OffStreetParking:Nowhere"), False, "exists of an unknown id")
    got = client.get("OffStreetParking:Downtown1")
    expect(got.id, PARKING, "get: id")
    expect(got.type, "OffStreetParking", "get: type")
    expect(without_context(got), without_context(e), "get: the entity round-trips")
    expect(got["availableSpotNumber.reliability.value"], 0.7, "get: nested property")
    expect(got["availableSpotNumber.providedBy.object"], "urn:ngsi-ld:Camera:C1", "get: relationship")
    expect(got["availableSpotNumber"].unitcode, "C62", "get: unitCode")
    expect(
        got["availableSpotNumber"].observedat,
        datetime(2022, 10, 25, 8, tzinfo=timezone.utc),
        "get: observedAt",
    )
    expect(got["location.value.coordinates"], [-8.5, 41.2], "get: GeoProperty")
    expect(
        got["dateObserved"].value,
        datetime(2022, 10, 25, 7, 30, tzinfo=timezone.utc),
        "get: DateTime value",
    )
    raw = client.get(e, asdict=True)
    context = raw["@context"]
    context = context if isinstance(context, list) else [context]
    expect(
        all(c.startswith("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context") for c in context),
        True,
        f"get: the answer's @context {context} is the core context",
    )
    passed("create, exists, get")


def check_updates(client, e):
    """The README's occupancy loop: each hour ten more spots are taken, until 8 p.m."""
    prop = e["availableSpotNumber"]
    for _ in range(12):
        prop.observedat += timedelta(hours=1)
        prop.value -= 10
        expect(client.update(e), True, "update")
    got = client.get(e)
    expect(got["availableSpotNumber"].value, 1, "update: the last value")
    expect(
        got["availableSpotNumber"].observedat,
        datetime(2022, 10, 25, 20, tzinfo=timezone.utc),
        "update: the last observedAt",
    )
    e.prop("name", "Downtown One (renovated)")
    expect(client.upsert(e), True, "upsert of an existing entity")
    expect(client.get(e)["name"].value, "Downtown One (renovated)", "upsert: the new value")
    missing = Entity("OffStreetParking", "Uptown2")
    missing.prop("name", "Uptown Two")
    expect(client.update(missing), False, "update of an unknown entity")
    expect(client.exists(missing), False, "update does not create")
    passed("update, upsert")


def check_temporal(client, e):
    # The create, twelve updates, then the upsert that re-created the entity unchanged.
    history = list(range(121, 0, -10)) + [1]
    observed = [f"2022-10-25T{h:02}:00:00Z" for h in range(8, 21)] + ["2022-10-25T20:00:00Z"]
    troe = client.temporal.get(e)
    values = troe["availableSpotNumber"]["values"]
    expect([v for v, _ in values], history, "temporal get: the history's values")
    expect([t for _, t in values], observed, "temporal get: the history's observedAt")
    verbose = client.temporal.get(e, attrs=["availableSpotNumber"], verbose=True)
    instances = verbose["availableSpotNumber"]
    expect([i["value"] for i in instances], history, "temporal get (normalized): instances")
    expect({i["unitCode"] for i in instances}, {"C62"}, "temporal get (normalized): unitCode")
    expect("name" in verbose, False, "temporal get: attrs keeps only the named attribute")
    troes = client.temporal.query(type="OffStreetParking", attrs=["availableSpotNumber"])
    expect([t["id"] for t in troes], [PARKING], "temporal query: entities")
    expect(len(troes[0]["availableSpotNumber"]["values"]), len(history), "temporal query: instances")
    aggregated = client.temporal.aggregate(
        type="OffStreetParking",
        attrs=["availableSpotNumber"],
        methods=[AggrMethod.MINIMUM, AggrMethod.MAXIMUM],
        period=timedelta(days=1),
        count=True,
    )
    expect(aggregated.pagination.count, 1, "temporal aggregate: count")
    per_day = aggregated.result[0]["availableSpotNumber"]
    expect(
        ([v for v, _, _ in per_day["min"]], [v for v, _, _ in per_day["max"]]),
        ([1], [121]),
        "temporal aggregate: one day's min and max",
    )
    (_, start, end), = per_day["min"]
    span = datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(
        start.replace("Z", "+00:00")
    )
    expect(span, timedelta(days=1), "temporal aggregate: the period")
    passed("temporal get, temporal query, temporal aggregate")


def parking_spots():
    """The README's parking spots: clones of a template, the first ones occupied."""
    spot = Entity("ParkingSpot", "OffStreetParking:Downtown1:000")
    spot.prop("status", "free")
    spot.rel("refParkingSite", PARKING)
    spots = spot * SPOTS
    for i, s in enumerate(spots):
        s.id = f"{s.id[:-3]}{i + 1:03}"
        if i < OCCUPIED:
            s["status"].value = "occupied"
    return spots


def check_batch_and_queries(client, parking):
    spots = parking_spots()
    created = client.create(spots[:4])
    expect((created.n_ok, created.n_err), (4, 0), "batch create")
    expect(sorted(created.success), sorted(s.id for s in spots[:4]), "batch create: ids")
    mrel = MultAttrValue()
    for spot in spots:
        mrel.add(spot, datasetid=f"Dataset:{spot.id[-3:]}")
    parking.rel("refParkingSpot", mrel)
    upserted = client.upsert([parking] + spots)
    # Clause 6.15.3.1: 201 lists the entities the upsert created, not the ones it replaced.
    expect(upserted.n_err, 0, "batch upsert: errors")
    expect(sorted(upserted.success), sorted(s.id for s in spots[4:]), "batch upsert: created")
    spots_of_parking = client.get(parking)["refParkingSpot"]
    expect(len(spots_of_parking), SPOTS, "batch upsert: a multi-attribute relationship")
    expect(
        sorted(r["datasetId"] for r in spots_of_parking),
        [f"urn:ngsi-ld:Dataset:{i:03}" for i in range(1, SPOTS + 1)],
        "batch upsert: datasetIds",
    )

    expect(client.count("ParkingSpot"), SPOTS, "count by type")
    occupied = 'refParkingSite=="urn:ngsi-ld:OffStreetParking:Downtown1";status=="occupied"'
    expect(client.count("ParkingSpot", q=occupied), OCCUPIED, "count by q (README)")
    expect(client.count(q='status=="free"'), SPOTS - OCCUPIED, "count by q alone")
    found = client.query(type="ParkingSpot")
    expect(sorted(s.id for s in found), sorted(s.id for s in spots), "query by type")
    expect(
        {s.id: s["status"].value for s in found},
        {s.id: s["status"].value for s in spots},
        "query by type: values",
    )
    paged = client.query(type="ParkingSpot", limit=3)
    expect(sorted(s.id for s in paged), sorted(s.id for s in spots), "query paged by 3")
    free = client.query(type="ParkingSpot", q='status=="free"')
    expect(sorted(s.id for s in free), sorted(s.id for s in spots[OCCUPIED:]), "query by q")
    expect(len(client.query_head(type="ParkingSpot", n=3)), 3, "query_head")
    expect(
        sorted(x.id for x in client.query(type="OffStreetParking", q="availableSpotNumber<5")),
        [PARKING],
        "query by q on a number",
    )
    body = {"type": "Query", "entities": [{"type": "ParkingSpot"}], "q": 'status=="occupied"'}
    expect(client.alt.count(body), OCCUPIED, "POST query: count")
    expect(
        sorted(s.id for s in client.alt.query(body)),
        sorted(s.id for s in spots[:OCCUPIED]),
        "POST query: entities",
    )

    for s in spots[:2]:
        s["status"].value = "free"
    updated = client.update(spots[:2])
    expect((updated.n_ok, updated.n_err), (2, 0), "batch update")
    spots[2].prop("level", -1)
    merged = client.upsert(spots[2:3], update=True)
    expect((merged.n_ok, merged.n_err), (1, 0), "batch upsert (update mode)")
    third = client.get(spots[2])
    expect((third["status"].value, third["level"].value), ("occupied", -1), "upsert update mode")
    expect(client.count("ParkingSpot", q=occupied), OCCUPIED - 2, "count after the batch update")
    expect(sorted(client.types.list()), ["OffStreetParking", "ParkingSpot"], "types listing")
    passed("batch create/upsert/update, query, count, types")
    return spots


class Notifications:
    """A notification endpoint on a free local port, recording the bodies it receives."""

    def __init__(self):
        self.bodies = []
        self.arrived = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner.arrived:
                    owner.bodies.append(json.loads(body))
                    owner.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, accept, seconds):
        with self.arrived:
            self.arrived.wait_for(lambda: any(accept(b) for b in self.bodies), timeout=seconds)
            return [b for b in self.bodies if accept(b)]

    def close(self):
        self.server.shutdown()


def check_subscriptions(client, parking):
    sink = Notifications()
    # The README's high-occupancy subscription; the builder percent-encodes `q`.
    subscr = (
        SubscriptionBuilder(sink.uri)
        .description("Notify me of high occupancy on parking Downtown1")
        .select_type("OffStreetParking")
        .watch(["availableSpotNumber"])
        .query("availableSpotNumber<3;totalSpotNumber==200")
        .build()
    )
    sid = client.subscriptions.create(subscr)
    expect(sid.startswith("urn:"), True, f"subscription create: id {sid}")
    listed = client.subscriptions.list()
    expect([s["id"] for s in listed], [sid], "subscription list")
    expect(len(client.subscriptions.list("high occupancy")), 1, "subscription list by pattern")
    expect(client.subscriptions.list("no such words"), [], "subscription list, no match")
    got = client.subscriptions.get(sid)
    expect(got["id"], sid, "subscription get: id")
    expect(got["entities"], [{"type": "OffStreetParking"}], "subscription get: entities")
    expect(got["watchedAttributes"], ["availableSpotNumber"], "subscription get: watched")
    expect(got["notification"]["endpoint"]["uri"], sink.uri, "subscription get: endpoint")
    expect(client.subscriptions.exists(sid), True, "subscription exists")

    parking["availableSpotNumber"].value = 2
    parking["availableSpotNumber"].observedat += timedelta(hours=1)
    expect(client.update(parking), True, "update that matches the subscription's q")
    matching = sink.wait_for(
        lambda b: any(
            d.get("availableSpotNumber", {}).get("value") == 2 for d in b.get("data", [])
        ),
        seconds=20,
    )
    expect(len(matching) >= 1, True, f"a notification with the new value (got {sink.bodies})")
    expect(matching[0]["subscriptionId"], sid, "notification: subscriptionId")
    expect(
        all(
            d.get("availableSpotNumber", {}).get("value", 0) < 3
            for b in sink.bodies
            for d in b.get("data", [])
        ),
        True,
        f"notifications only for values the q admits (got {sink.bodies})",
    )

    expect(client.subscriptions.delete("high occupancy"), True, "subscription delete")
    expect(client.subscriptions.list(), [], "subscription list after delete")
    expect(client.subscriptions.exists(sid), False, "subscription exists after delete")
    sink.close()
    passed("subscription create, list, get, notification, delete")


def check_deletes(client, parking, spots):
    deleted = client.delete(spots[:3])
    expect((deleted.n_ok, deleted.n_err), (3, 0), "batch delete")
    expect(client.count("ParkingSpot"), SPOTS - 3, "count after the batch delete")
    client.drop("ParkingSpot")
    expect(client.count("ParkingSpot"), 0, "count after drop")
    expect(client.delete(parking), True, "delete")
    expect(client.exists(parking), False, "exists after delete")
    try:
        client.get(parking)
        expect("no error", "NgsiResourceNotFoundError", "get after delete")
    except NgsiResourceNotFoundError:
        pass
    expect(client.types.list(), [], "types after every delete")
    passed("batch delete, drop, delete")


def check_tenant(port):
    """A tenant the hub does not know yet: the library creates it as it does for Orion-LD."""
    with Client("127.0.0.1", port, tenant="ngsildclient") as tenant:
        e = Entity("Sensor", "T1").prop("temperature", 21.5, unitcode="CEL")
        expect(tenant.create(e), True, "create in a tenant")
        expect(tenant.get(e)["temperature"].value, 21.5, "get in a tenant")
        expect(tenant.count("Sensor"), 1, "count in a tenant")
    with Client("127.0.0.1", port) as default:
        expect(default.exists(e), False, "a tenant's entity is not in the default tenant")
    passed("tenant")


async def check_async_client(port):
    """The same basics through the library's httpx-based AsyncClient."""
    observed = datetime(2022, 1, 1, tzinfo=timezone.utc)
    rooms = [
        Entity("RoomObserved", f"Room{i}")
        .prop("temperature", 18.0 + i, unitcode="CEL", observedat=observed)
        .loc(45.0, 5.0 + i)
        for i in range(1, 6)
    ]
    async with AsyncClient("127.0.0.1", port, port_temporal=port) as client:
        expect(await client.create(rooms[0]), True, "async create")
        expect(await client.exists(rooms[0]), True, "async exists")
        got = await client.get(rooms[0])
        expect(without_context(got), without_context(rooms[0]), "async get: the entity round-trips")
        created = await client.create(rooms[1:])
        expect((created.n_ok, created.n_err), (4, 0), "async batch create")
        upserted = await client.upsert(rooms)
        expect((upserted.n_ok, upserted.n_err), (5, 0), "async batch upsert of existing entities")
        warm = await client.query(type="RoomObserved", q="temperature>21")
        expect(sorted(r.id for r in warm), sorted(r.id for r in rooms[3:]), "async query by q")
        expect(await client.count(type="RoomObserved"), 5, "async count")
        rooms[0]["temperature"].value = 22.5
        rooms[0]["temperature"].observedat += timedelta(hours=1)
        expect(await client.update(rooms[0]), True, "async update")
        troe = await client.temporal.get(rooms[0], attrs=["temperature"])
        expect(
            troe["temperature"]["values"],
            [[19.0, "2022-01-01T00:00:00Z"], [19.0, "2022-01-01T00:00:00Z"],
             [22.5, "2022-01-01T01:00:00Z"]],
            "async temporal get",
        )
        troes = await client.temporal.query(type="RoomObserved", attrs=["temperature"])
        expect(sorted(t["id"] for t in troes), sorted(r.id for r in rooms), "async temporal query")
        deleted = await client.delete(rooms)
        expect((deleted.n_ok, deleted.n_err), (5, 0), "async batch delete")
        expect(await client.count(type="RoomObserved"), 0, "async count after delete")
    passed("async client")


def main():
    port = int(sys.argv[1])
    client = Client("127.0.0.1", port)
    expect(client.is_connected(), True, "connected")
    parking = parking_entity()
    check_create_get(client, parking)
    check_updates(client, parking)
    check_temporal(client, parking)
    spots = check_batch_and_queries(client, parking)
    check_subscriptions(client, parking)
    check_deletes(client, parking, spots)
    check_tenant(port)
    asyncio.run(check_async_client(port))
    client.close()
    print("ngsildclient: all checks passed", flush=True)


if __name__ == "__main__":
    main()
