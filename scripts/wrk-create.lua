local counter = 0

threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local id = "urn:ngsi-ld:TrafficFlowObserved:w" .. tid .. "-" .. os.time() .. "-" .. counter
  local body = '{"id":"' .. id .. '","type":"TrafficFlowObserved","dateObserved":{"type":"Property","value":"2024-05-01T08:00:00Z"},"intensity":{"type":"Property","value":120,"observedAt":"2024-05-01T08:00:00Z","unitCode":"E50"},"occupancy":{"type":"Property","value":0.4,"observedAt":"2024-05-01T08:00:00Z"},"averageVehicleSpeed":{"type":"Property","value":42.5,"unitCode":"KMH"},"congested":{"type":"Property","value":false},"laneId":{"type":"Property","value":1},"laneDirection":{"type":"Property","value":"forward"},"refRoadSegment":{"type":"Relationship","object":"urn:ngsi-ld:RoadSegment:1"},"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[120.1,30.2]}}}'
  return wrk.format("POST", "/ngsi-ld/v1/entities", {["Content-Type"]="application/json"}, body)
end
