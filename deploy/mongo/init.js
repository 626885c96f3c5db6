// The one-shot `mongo-init` job of deploy/docker-compose.yml, run as the root user: initiate the
// single-node replica set rs0 (idempotent), wait for its primary, then give every service its
// own user with readWrite on its own database only (re-run safe: an existing user gets the
// password from deploy/.env again). A service's REBAL_STORE_URL names that user.
const SERVICES = [
  ["optimizer", "optimizer", "MONGO_OPTIMIZER_PASSWORD"],
  ["order-router", "order_router", "MONGO_ORDER_ROUTER_PASSWORD"],
  ["settlement-tracker", "settlement_tracker", "MONGO_SETTLEMENT_TRACKER_PASSWORD"],
  ["scheduler", "scheduler", "MONGO_SCHEDULER_PASSWORD"],
  ["api", "api", "MONGO_API_PASSWORD"],
];

try {
  rs.status();
  print("replica set rs0 already initiated");
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
for (let i = 0; i < 120 && !db.hello().isWritablePrimary; i++) sleep(500);
if (!db.hello().isWritablePrimary) throw new Error("rs0 has no primary after 60 s");
print("replica set rs0 ready");

for (const [user, database, variable] of SERVICES) {
  const pwd = process.env[variable];
  if (!pwd || pwd === "change-me") {
    throw new Error(`${variable} is empty or change-me: set it in deploy/.env (deploy/make-env.sh)`);
  }
  const target = db.getSiblingDB(database);
  const roles = [{ role: "readWrite", db: database }];
  if (target.getUser(user)) target.updateUser(user, { pwd, roles });
  else target.createUser({ user, pwd, roles });
}
print(`users ready: ${SERVICES.map(([user]) => user).join(", ")}`);
