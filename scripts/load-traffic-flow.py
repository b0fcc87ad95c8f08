#!/usr/bin/env python3
"""Loads N TrafficFlowObserved entities (ids urn:ngsi-ld:TrafficFlowObserved:b0 .. b{N-1})
into a running hub by batch upsert, 1000 per request, for the wrk retrieve benchmarks.

usage: scripts/load-traffic-flow.py http://127.0.0.1:8080 100000
"""
import json
import sys
import urllib.request


def entity(i):
    return {
        "id": f"urn:ngsi-ld:TrafficFlowObserved:b{i}",
        "type": "TrafficFlowObserved",
        "dateObserved": {"type": "Property", "value": "2024-05-01T08:00:00Z"},
        "intensity": {"type": "Property", "value": 100 + i % 500,
                      "observedAt": "2024-05-01T08:00:00Z", "unitCode": "E50"},
        "occupancy": {"type": "Property", "value": 0.4},
        "averageVehicleSpeed": {"type": "Property", "value": 42.5, "unitCode": "KMH"},
        "congested": {"type": "Property", "value": False},
        "laneId": {"type": "Property", "value": 1},
        "laneDirection": {"type": "Property", "value": "forward"},
        "refRoadSegment": {"type": "Relationship", "object": "urn:ngsi-ld:RoadSegment:1"},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [120 + (i % 1000) * 0.001, 30.2]}},
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    base, n = sys.argv[1], int(sys.argv[2])
    for start in range(0, n, 1000):
        body = json.dumps([entity(i) for i in range(start, min(n, start + 1000))]).encode()
        req = urllib.request.Request(base + "/ngsi-ld/v1/entityOperations/upsert", data=body,
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
    print(f"loaded {n} entities")


main()
