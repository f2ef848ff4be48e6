// Apollo's subscriptions-transport-ws (graphql-ws subprotocol only), unmaintained since 2018
// and still deployed: it accepts whatever subprotocol the client offers first.
const { SubscriptionServer } = require("subscriptions-transport-ws");
const { execute, subscribe } = require("graphql");
const { WebSocketServer } = require("ws");
const { schema, query, mutation, subscription, port, announce } = require("./schema");

const wss = new WebSocketServer({ host: "127.0.0.1", port, path: "/graphql" });
SubscriptionServer.create(
  {
    schema,
    execute,
    subscribe,
    rootValue: { ...query, ...mutation, ...subscription },
    onConnect: (params) => {
      if (params && params.deny) throw new Error("denied");
      return {};
    },
  },
  wss,
);
announce(wss);
