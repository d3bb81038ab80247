"""RM high availability as YARN's, with Redis in ZooKeeper's place: a leader lease, a fencing epoch every
write checks, a standby that redirects to the active (see docs/resourcemanager.md, "High availability")."""
