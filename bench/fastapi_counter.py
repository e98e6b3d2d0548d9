"""The seed's Counter on FastAPI + uvicorn: what a Python user would otherwise deploy.

Run: /usr/bin/python3 -m uvicorn --app-dir bench fastapi_counter:app --port PORT --log-level warning
"""
from fastapi import FastAPI

app = FastAPI()
count = 0


@app.get("/Counter")
def counter():
    global count
    count += 1
    return {"count": count}
