#!/usr/bin/env python3
# This file is part of Moodle - https://moodle.org/
#
# Moodle is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# Moodle is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with Moodle.  If not, see <https://www.gnu.org/licenses/>.
"""Writes testdata/webhook-vectors.json, the webhook test vectors shared by the plugin and the notifier.

Each case pairs the plain data the plugin's payload builder is given (`input`) with the body it must
produce, written out by hand below (`expected`), and signs that body with Python's own HMAC. Nothing
here calls the PHP code: the PHP harness (run.php) and the Go test (webhookvectors_test.go) then check
two other implementations against these bytes.

Run from anywhere: python3 moodle-plugin/tests/standalone/make_vectors.py [OUTPUT]
"""

import base64
import hashlib
import hmac
import json
import os
import sys

SITE = "https://moodle.example.com"


def secret(seed: str, size: int) -> str:
    """A deterministic whsec_ secret of `size` bytes."""
    raw = hashlib.sha512(seed.encode()).digest()[:size]
    return "whsec_" + base64.b64encode(raw).decode()


def encode(payload: dict) -> str:
    """The body as the plugin writes it: compact, slashes and non-ASCII unescaped, 50.0 kept as 50.0."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def sign(secret_: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret_[len("whsec_"):], validate=True)
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


# Users as $DB->get_record() returns them: every column a string.
STUDENT1 = {"id": "3", "username": "student1", "firstname": "Stu", "lastname": "Dent",
            "email": "student1@example.com", "phone1": "+15551239999", "phone2": "+15559870001",
            "lang": "en", "timezone": "99", "deleted": "0"}
STUDENT3 = {"id": "5", "username": "student3", "firstname": "Tercera", "lastname": "Alumna",
            "email": "student3@example.com", "phone1": "+34600111333", "phone2": "",
            "lang": "es", "timezone": "Europe/Madrid", "deleted": "0"}
UNICODE_USER = {"id": "42", "username": "jose.nunez", "firstname": "José Ángel", "lastname": "Núñez Zoë 😀",
                "email": "jose@example.com", "phone1": "+34 600 111 222", "phone2": "", "lang": "es",
                "timezone": "Europe/Madrid", "deleted": "0"}
QUOTES_USER = {"id": 77, "username": "obrien", "firstname": "Seán \"Bob\"", "lastname": "O'Brien \\ Test/Slash",
               "email": "obrien@example.com", "phone1": "  +353 1 234 5678  ", "phone2": "", "lang": "es_mx",
               "timezone": "America/Mexico_City", "deleted": "0"}

LAB102 = {"id": "3", "shortname": "LAB102", "fullname": "Lab Course 102", "startdate": "1793664000",
          "enddate": "1796299200", "enablecompletion": "1"}
PRL = {"id": "7", "shortname": "PRL-01", "fullname": "Prevención de riesgos laborales — nivel básico",
       "startdate": "1764547200", "enddate": "0", "enablecompletion": "1"}
NOSCORM = {"id": 12, "shortname": "INTRO", "fullname": "Introducción sin SCORM", "startdate": 1764547200,
           "enddate": 1767225600, "enablecompletion": 1}


def user_out(user: dict, phone: str, roles: list) -> dict:
    return {"id": int(user["id"]), "username": user["username"], "firstname": user["firstname"],
            "lastname": user["lastname"], "email": user["email"], "phone": phone, "lang": user["lang"],
            "timezone": user["timezone"], "roles": roles}


def course_out(course: dict) -> dict:
    return {"id": int(course["id"]), "shortname": course["shortname"], "fullname": course["fullname"],
            "startdate": int(course["startdate"]), "enddate": int(course["enddate"])}


def envelope(msg_id: str, event: str, occurred_at: int, site: str = SITE) -> dict:
    return {"schema": 1, "id": msg_id, "event": event, "occurred_at": occurred_at, "site": site}


CASES = []


def case(name, secret_, msg_id, timestamp, input_, expected):
    CASES.append({"name": name, "secret": secret_, "msg_id": msg_id, "timestamp": timestamp,
                  "input": input_, "expected": expected})


# 1. An enrolment over web services, as observer-probe.jsonl shows it (string ids, int objectid), with
#    two of three tracked SCORM activities done.
ev = {"eventname": "\\core\\event\\user_enrolment_created", "component": "core", "action": "created",
      "target": "user_enrolment", "objecttable": "user_enrolments", "objectid": 8, "crud": "c", "edulevel": 0,
      "contextid": 29, "contextlevel": 50, "contextinstanceid": "3", "userid": "2", "courseid": "3",
      "relateduserid": "3", "anonymous": 0, "other": {"enrol": "manual"}, "timecreated": 1796312967}
mid = "0f8fad5b-d9cb-469f-a165-70867728950e"
case("user_enrolment_created with SCORM progress 2 of 3", secret("vectors-1", 32), mid, 1796312970,
     {"site": SITE, "phonefield": "phone1", "event": ev, "user": STUDENT1, "roles": ["student"],
      "course": LAB102,
      "enrolment": {"id": "8", "status": "0", "timestart": "1796312967", "timeend": "0", "enrolstatus": "0"},
      "progress": {"scorm_total": 3, "scorm_completed": 2}},
     {**envelope(mid, "user_enrolment_created", 1796312967),
      "user": user_out(STUDENT1, "+15551239999", ["student"]), "course": course_out(LAB102),
      "enrolment": {"id": 8, "status": 0, "timestart": 1796312967, "timeend": 0},
      "progress": {"scorm_total": 3, "scorm_completed": 2, "percent": 66.66666666666667},
      "moodle": ev})

# 2. A suspended enrolment that starts in the future, phone from phone2 (empty), nothing done yet.
ev = {"eventname": "\\core\\event\\user_enrolment_created", "component": "core", "action": "created",
      "target": "user_enrolment", "objecttable": "user_enrolments", "objectid": "21", "crud": "c",
      "edulevel": 0, "contextid": 40, "contextlevel": 50, "contextinstanceid": "7", "userid": "2",
      "courseid": "7", "relateduserid": "5", "anonymous": 0, "other": {"enrol": "manual"},
      "timecreated": 1764756000}
mid = "3d5c0b1e-8f43-4c1a-9a55-0e2b7c9d1f10"
case("user_enrolment_created suspended and starting later", secret("vectors-2", 24), mid, 1764756005,
     {"site": SITE, "phonefield": "phone2", "event": ev, "user": STUDENT3, "roles": ["student"], "course": PRL,
      "enrolment": {"id": "21", "status": "1", "timestart": "1767225600", "timeend": "1769904000",
                    "enrolstatus": "0"},
      "progress": {"scorm_total": 4, "scorm_completed": 0}},
     {**envelope(mid, "user_enrolment_created", 1764756000),
      "user": user_out(STUDENT3, "", ["student"]), "course": course_out(PRL),
      "enrolment": {"id": 21, "status": 1, "timestart": 1767225600, "timeend": 1769904000},
      "progress": {"scorm_total": 4, "scorm_completed": 0, "percent": 0.0},
      "moodle": ev})

# 3. An active user enrolment in a disabled enrolment method: reported as suspended; 2 of 4 is 50.0.
ev = {"eventname": "\\core\\event\\user_enrolment_updated", "component": "core", "action": "updated",
      "target": "user_enrolment", "objecttable": "user_enrolments", "objectid": 21, "crud": "u", "edulevel": 0,
      "contextid": 40, "contextlevel": 50, "contextinstanceid": "7", "userid": "2", "courseid": "7",
      "relateduserid": "5", "anonymous": 0, "other": {"enrol": "self"}, "timecreated": 1764842400}
mid = "b2a4e6c8-1d3f-4a5b-8c7d-9e0f1a2b3c4d"
case("user_enrolment_updated in a disabled method, 50.0 percent", secret("vectors-1", 32), mid, 1764842401,
     {"site": SITE, "phonefield": "phone1", "event": ev, "user": STUDENT3, "roles": ["student", "student"],
      "course": PRL,
      "enrolment": {"id": 21, "status": 0, "timestart": 1764756000, "timeend": 0, "enrolstatus": 1},
      "progress": {"scorm_total": 4, "scorm_completed": 2}},
     {**envelope(mid, "user_enrolment_updated", 1764842400),
      "user": user_out(STUDENT3, "+34600111333", ["student"]), "course": course_out(PRL),
      "enrolment": {"id": 21, "status": 1, "timestart": 1764756000, "timeend": 0},
      "progress": {"scorm_total": 4, "scorm_completed": 2, "percent": 50.0},
      "moodle": ev})

# 4. An unenrolment: the row is gone, the enrolment comes from other.userenrolment (strings, as logged).
ev = {"eventname": "\\core\\event\\user_enrolment_deleted", "component": "core", "action": "deleted",
      "target": "user_enrolment", "objecttable": "user_enrolments", "objectid": "2", "crud": "d", "edulevel": 0,
      "contextid": 11, "contextlevel": 50, "contextinstanceid": "3", "userid": "2", "courseid": "3",
      "relateduserid": "3", "anonymous": 0,
      "other": {"userenrolment": {"id": "2", "status": "0", "enrolid": "1", "userid": "3", "timestart": "0",
                                  "timeend": "0", "modifierid": "2", "timecreated": "1796312651",
                                  "timemodified": "1796312651", "courseid": "3", "enrol": "manual",
                                  "lastenrol": True},
                "enrol": "manual"},
      "timecreated": 1796312687}
mid = "5e8f2a7c-6b1d-4e3f-a9c0-7d2b4f6e8a1c"
case("user_enrolment_deleted built from the event's snapshot", secret("vectors-3", 64), mid, 1796312690,
     {"site": SITE, "phonefield": "phone1", "event": ev, "user": STUDENT1, "roles": [], "course": LAB102,
      "enrolment": None, "progress": None},
     {**envelope(mid, "user_enrolment_deleted", 1796312687),
      "user": user_out(STUDENT1, "+15551239999", []), "course": course_out(LAB102),
      "enrolment": {"id": 2, "status": 0, "timestart": 0, "timeend": 0},
      "moodle": ev})

# 5. A profile change: no course, phone from a custom profile field.
ev = {"eventname": "\\core\\event\\user_updated", "component": "core", "action": "updated", "target": "user",
      "objecttable": "user", "objectid": "5", "crud": "u", "edulevel": 0, "contextid": 13, "contextlevel": 30,
      "contextinstanceid": "5", "userid": "2", "courseid": "0", "relateduserid": "5", "anonymous": 0,
      "other": None, "timecreated": 1796312686}
mid = "user_updated:5:1796312686"
case("user_updated without course, phone from a profile field", secret("vectors-2", 24), mid, 1796312700,
     {"site": "https://campus.example.org/moodle", "phonefield": "profile_field_whatsapp", "event": ev,
      "user": {**STUDENT3, "profile_field_whatsapp": "+34 611 222 333"}, "roles": [], "course": None,
      "enrolment": None, "progress": None},
     {**envelope(mid, "user_updated", 1796312686, "https://campus.example.org/moodle"),
      "user": user_out(STUDENT3, "+34 611 222 333", []),
      "moodle": ev})

# 6. A course change: no user, Unicode course name.
ev = {"eventname": "\\core\\event\\course_updated", "component": "core", "action": "updated", "target": "course",
      "objecttable": "course", "objectid": 7, "crud": "u", "edulevel": 1, "contextid": 40, "contextlevel": 50,
      "contextinstanceid": "7", "userid": "2", "courseid": "7", "relateduserid": None, "anonymous": 0,
      "other": {"shortname": "PRL-01", "fullname": "Prevención de riesgos laborales — nivel básico",
                "updatedfields": {"enddate": "0"}},
      "timecreated": 1764843000}
mid = "c0ffee00-1234-4abc-8def-0123456789ab"
case("course_updated without user", secret("vectors-1", 32), mid, 1764843001,
     {"site": SITE, "phonefield": "phone1", "event": ev, "user": None, "roles": [], "course": PRL,
      "enrolment": None, "progress": None},
     {**envelope(mid, "course_updated", 1764843000), "course": course_out(PRL), "moodle": ev})

# 7. A SCORM status from the web services path: objectid and attemptid as strings, Unicode names,
#    a phone with spaces; one of three done.
ev = {"eventname": "\\mod_scorm\\event\\status_submitted", "component": "mod_scorm", "action": "submitted",
      "target": "status", "objecttable": "scorm_scoes_value", "objectid": "1", "crud": "u", "edulevel": 2,
      "contextid": 12, "contextlevel": 70, "contextinstanceid": "4", "userid": "42", "courseid": "3",
      "relateduserid": "42", "anonymous": 0,
      "other": {"attemptid": "9", "cmielement": "cmi.core.lesson_status", "cmivalue": "passed"},
      "timecreated": 1796312969}
mid = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
case("scorm_status_submitted with string ids and Unicode names", secret("vectors-3", 64), mid, 1796312975,
     {"site": SITE, "phonefield": "phone1", "event": ev, "user": UNICODE_USER, "roles": ["student"],
      "course": LAB102,
      "enrolment": {"id": "30", "status": "0", "timestart": "0", "timeend": "0", "enrolstatus": "0"},
      "progress": {"scorm_total": "3", "scorm_completed": "1"}},
     {**envelope(mid, "scorm_status_submitted", 1796312969),
      "user": user_out(UNICODE_USER, "+34 600 111 222", ["student"]), "course": course_out(LAB102),
      "enrolment": {"id": 30, "status": 0, "timestart": 0, "timeend": 0},
      "progress": {"scorm_total": 3, "scorm_completed": 1, "percent": 33.333333333333336},
      "moodle": ev})

# 8. Activity completion in a course without SCORM: percent is null.
ev = {"eventname": "\\core\\event\\course_module_completion_updated", "component": "core", "action": "updated",
      "target": "course_module_completion", "objecttable": "course_modules_completion", "objectid": 9,
      "crud": "u", "edulevel": 2, "contextid": 60, "contextlevel": 70, "contextinstanceid": "31", "userid": "77",
      "courseid": "12", "relateduserid": "77", "anonymous": 0,
      "other": {"relateduserid": "77", "overrideby": None, "completionstate": 1}, "timecreated": 1764900000}
mid = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6"
case("course_module_completion_updated in a course with no SCORM", secret("vectors-2", 24), mid, 1764900002,
     {"site": SITE, "phonefield": "phone1", "event": ev, "user": QUOTES_USER, "roles": ["student", "teacher"],
      "course": NOSCORM,
      "enrolment": {"id": 55, "status": 0, "timestart": 1764547200, "timeend": 0, "enrolstatus": 0},
      "progress": {"scorm_total": 0, "scorm_completed": 0}},
     {**envelope(mid, "course_module_completion_updated", 1764900000),
      "user": user_out(QUOTES_USER, "+353 1 234 5678", ["student", "teacher"]), "course": course_out(NOSCORM),
      "enrolment": {"id": 55, "status": 0, "timestart": 1764547200, "timeend": 0},
      "progress": {"scorm_total": 0, "scorm_completed": 0, "percent": None},
      "moodle": ev})

# 9. Course completion with every tracked SCORM done, and no enrolment found.
ev = {"eventname": "\\core\\event\\course_completed", "component": "core", "action": "completed",
      "target": "course", "objecttable": "course_completions", "objectid": "1", "crud": "u", "edulevel": 2,
      "contextid": "11", "contextlevel": "50", "contextinstanceid": "3", "userid": "3", "courseid": "3",
      "relateduserid": "3", "anonymous": "0", "other": {"relateduserid": "3"}, "timecreated": "1796312657"}
mid = "e7f8a9b0-c1d2-4e3f-a4b5-c6d7e8f9a0b1"
case("course_completed at 100.0 percent, every event field a string", secret("vectors-1", 32), mid, 1796312660,
     {"site": SITE, "phonefield": "phone1", "event": ev, "user": STUDENT1, "roles": ["student"], "course": LAB102,
      "enrolment": None, "progress": {"scorm_total": 3, "scorm_completed": 3}},
     {**envelope(mid, "course_completed", 1796312657),
      "user": user_out(STUDENT1, "+15551239999", ["student"]), "course": course_out(LAB102),
      "progress": {"scorm_total": 3, "scorm_completed": 3, "percent": 100.0},
      "moodle": ev})

# 10. The settings page's test delivery: an event name outside the contract, answered "ignored".
mid = "4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e"
case("test_event from the settings page", secret("vectors-3", 64), mid, 1796313000,
     {"builder": "test", "site": SITE, "time": 1796313000, "userid": 2},
     {**envelope(mid, "test_event", 1796313000),
      "moodle": {"eventname": "\\local_whatsappnotifier\\test_event", "userid": 2, "timecreated": 1796313000}})


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "testdata",
                                                             "webhook-vectors.json")
    vectors = []
    for c in CASES:
        body = encode(c["expected"])
        assert c["expected"]["id"] == c["msg_id"]
        vectors.append({"name": c["name"], "secret": c["secret"], "msg_id": c["msg_id"],
                        "timestamp": c["timestamp"], "body": body,
                        "signature": sign(c["secret"], c["msg_id"], c["timestamp"], body),
                        "input": c["input"]})
    with open(out, "w", encoding="utf-8") as f:
        json.dump(vectors, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(f"wrote {len(vectors)} vectors to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
