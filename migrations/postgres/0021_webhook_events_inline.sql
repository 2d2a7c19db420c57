-- A change writes its webhook executions and tasks itself again, in one round trip (one
-- data-modifying WITH): the sender no longer expands a queue of events, which cost an insert, a
-- copy and a delete per event. `event_id` now names the executions one event made. Events
-- recorded before the upgrade are expanded here, as the sender did.
INSERT INTO webhook_executions (policy_id, event_type, payload, status, created_at, event_id)
SELECT p.id, e.event_type, e.payload, 'Running', e.created_at, e.id FROM webhook_events e
JOIN webhook_policies p ON p.project_id = e.project_id AND p.enabled = 1
AND p.event_types LIKE '%,' || e.event_type || ',%' ORDER BY e.id, p.id;

INSERT INTO webhook_tasks (execution_id, target, status, next_attempt_at, created_at, updated_at)
SELECT x.id, j.value::text, 'Pending', x.created_at, x.created_at, x.created_at FROM webhook_executions x
JOIN webhook_policies p ON p.id = x.policy_id CROSS JOIN LATERAL jsonb_array_elements(p.targets::jsonb) j
WHERE x.event_id IN (SELECT id FROM webhook_events)
AND NOT EXISTS (SELECT 1 FROM webhook_tasks t WHERE t.execution_id = x.id) ORDER BY x.id;

DROP TABLE webhook_events;

-- An execution's status and end are derived from its tasks when read: finishing a delivery
-- writes its task only.
ALTER TABLE webhook_executions DROP COLUMN status;
ALTER TABLE webhook_executions DROP COLUMN ended_at;
