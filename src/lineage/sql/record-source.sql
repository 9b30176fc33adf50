select message_id, channel, control_id, sender, message_type, sha256, received_at, status
  from inbox where message_id = $1
