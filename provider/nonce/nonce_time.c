/* nonce_time.c - RFC 3339 date-time parsing and formatting for the seed shape's absolute expiry
 * (e.g. "2031-10-12T07:20:50.52Z"), without the locale and TZ dependence of strptime/mktime. */
#include <stdio.h>
#include <string.h>

#include "nonce_local.h"

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int af_rfc3339_parse(const char *t, int64_t *epoch)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, m, s, oh = 0, om = 0, sign = 0;
    size_t i = 19, n;

    if (t == NULL || (n = strlen(t)) < 20 || n > 64)
        return 0;
    if (!digits(t, 4, &Y) || t[4] != '-' || !digits(t + 5, 2, &M) || t[7] != '-' ||
        !digits(t + 8, 2, &D) || (t[10] != 'T' && t[10] != 't') || !digits(t + 11, 2, &h) ||
        t[13] != ':' || !digits(t + 14, 2, &m) || t[16] != ':' || !digits(t + 17, 2, &s))
        return 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap(Y)) || h > 23 || m > 59 ||
        s > 60)
        return 0;
    if (t[i] == '.') {
        size_t f = ++i;

        while (t[i] >= '0' && t[i] <= '9')
            i++;
        if (i == f)
            return 0;
    }
    if (t[i] == 'Z' || t[i] == 'z') {
        i++;
    } else if (t[i] == '+' || t[i] == '-') {
        sign = t[i] == '+' ? 1 : -1;
        if (!digits(t + i + 1, 2, &oh) || t[i + 3] != ':' || !digits(t + i + 4, 2, &om) ||
            oh > 23 || om > 59)
            return 0;
        i += 6;
    } else {
        return 0;
    }
    if (t[i] != '\0')
        return 0;
    /* a leap second counts as the next second's start; fine for an expiry */
    *epoch = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + s -
             sign * (oh * 3600 + om * 60);
    return 1;
}

int af_rfc3339_format(int64_t epoch, char *buf, size_t buflen)
{
    int64_t days, y, rem;
    unsigned m, d;

    /* years 0000..9999 only */
    if (epoch < -62167219200LL || epoch > 253402300799LL || buflen < 21)
        return 0;
    days = epoch >= 0 ? epoch / 86400 : -((-epoch + 86399) / 86400);
    rem = epoch - days * 86400;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, buflen, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
    return 1;
}
