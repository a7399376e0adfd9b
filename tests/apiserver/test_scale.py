"""5000 synthetic Nodes: a full paginated LIST (limit=500), as the agent does at start."""

import json
import unittest

from standin_fixture import StandIn

NODES = 5000


class FiveThousandNodes(unittest.TestCase):
    def test_full_paginated_list(self):
        with StandIn(nodes=NODES) as s:
            names, cidrs, pages, versions, token = set(), set(), 0, set(), ""
            conn = s.connection(timeout=120)
            try:
                while True:
                    path = "/api/v1/nodes?limit=500" + (f"&continue={token}" if token else "")
                    conn.request("GET", path, headers={"Authorization":
                                                       f"Bearer {s.agent_token}"})
                    response = conn.getresponse()
                    self.assertEqual(response.status, 200)
                    page = json.loads(response.read())
                    pages += 1
                    self.assertLessEqual(len(page["items"]), 500)
                    for item in page["items"]:
                        names.add(item["metadata"]["name"])
                        cidrs.add(item["spec"]["podCIDR"])
                    versions.add(page["metadata"]["resourceVersion"])
                    token = page["metadata"].get("continue")
                    if not token:
                        break
            finally:
                conn.close()
        self.assertEqual((len(names), len(cidrs), pages), (NODES, NODES, 10))
        # One version per object at start: the Nodes and the four namespaces of every cluster.
        self.assertEqual(versions, {str(NODES + 4)})


if __name__ == "__main__":
    unittest.main()
