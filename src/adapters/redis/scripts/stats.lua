-- {pre-queue, waiting, active, admissions in the last 60 s}
return {redis.call('ZCARD', K_PREQUEUE) + redis.call('ZCARD', K_OPENING_IDS), redis.call('ZCARD', K_WAITING),
        redis.call('ZCARD', K_ACTIVE), redis.call('ZCOUNT', K_ADMITS, '(' .. ms(NOW - 60000), '+inf')}
